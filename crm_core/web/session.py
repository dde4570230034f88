"""Browser sessions: the API's session token in an HttpOnly cookie, plus a CSRF token.

The cookie is SameSite=Strict, and every form post must also carry a token derived from the
session token, which a page on another site can neither read nor compute.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from crm_core.api.deps import unit_of_work
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.errors import AuthenticationError
from crm_core.services.identity import authenticate
from crm_core.unit_of_work import UnitOfWork

COOKIE = "crm_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequiredError(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to continue")
        self.next_path = next_path


class CsrfError(Exception):
    """A state-changing request without the page's CSRF token."""


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"csrf:" + session_token.encode()).hexdigest()


def login_url(prefix: str, next_path: str) -> str:
    return f"{prefix}/login?next={quote(next_path, safe='/')}"


def safe_next(prefix: str, candidate: str | None) -> str:
    """Only our own pages are valid places to return to after sign-in (no open redirect)."""
    if candidate and candidate.startswith(f"{prefix}/") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return f"{prefix}/"


def web_principal(request: Request, uow: Annotated[UnitOfWork, Depends(unit_of_work)]) -> Principal:
    token = request.cookies.get(COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequiredError(here)
    try:
        principal = authenticate(uow, token, now=utc_now())
    except AuthenticationError as error:
        raise LoginRequiredError(here) from error
    request.state.csrf = csrf_token(token)
    request.state.principal = principal
    return replace(principal, request_id=request.headers.get("X-Request-ID", "")[:64] or None)


async def check_csrf(request: Request) -> None:
    """For posts: the form field or header must match the session's token."""
    token = request.cookies.get(COOKIE, "")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not token or sent is None or not hmac.compare_digest(sent, csrf_token(token)):
        raise CsrfError("this form has expired or did not come from this site; reload the page and try again")


Viewer = Annotated[Principal, Depends(web_principal)]
Csrf = Depends(check_csrf)
