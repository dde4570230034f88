"""The web pages where people use the CRM and its scores: server-rendered, same rules as the API."""

from crm_core.web.app import ORIGIN_ONLY_HEADERS, WEB_PREFIX, create_web_app

__all__ = ["ORIGIN_ONLY_HEADERS", "WEB_PREFIX", "create_web_app"]
