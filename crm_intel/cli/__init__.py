"""The `crm-intel` command: it parses, calls the application layer (`crm_intel.app`), and prints."""

from crm_intel.cli.main import app

__all__ = ["app"]
