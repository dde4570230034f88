"""Composition root: the one `crm-intel` command assembling every package's jobs."""
