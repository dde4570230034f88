"""The web pages where people use the CRM and its scores: server-rendered, same rules as the API."""

from crm_core.web.app import WEB_PREFIX, create_web_app

__all__ = ["WEB_PREFIX", "create_web_app"]
