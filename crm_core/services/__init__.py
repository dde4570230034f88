"""Use cases of the system of record; they take plain values and a unit of work."""
