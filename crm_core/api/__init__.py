"""The CRM's HTTP API (FastAPI); domain errors become HTTP statuses only here."""

from crm_core.api.app import create_api

__all__ = ["create_api"]
