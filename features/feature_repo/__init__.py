"""The Feast repo: definitions only (Feast imports every module here on apply)."""
