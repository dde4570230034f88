"""Bringing records in from files: reading, column mapping, validation, dedup and merge."""
