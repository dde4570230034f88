"""Field protection: encryption at rest, keyed lookup hashes and per-role masking of personal data."""
