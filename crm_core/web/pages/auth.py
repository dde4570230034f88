"""Sign in and out. Sign-in reuses the API's login (throttling, audit) and keeps the session
token in a cookie the page's script cannot read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from crm_core.api.deps import Settings, UoW, client_of
from crm_core.clock import utc_now
from crm_core.errors import AuthenticationError, LoginThrottledError
from crm_core.services.identity import login, sign_out
from crm_core.web.session import COOKIE, Csrf, safe_next
from crm_core.web.templating import pages_of

router = APIRouter()


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return pages_of(request).render(request, "login.html", next=next, error=None, email="")


@router.post("/login")
def login_submit(
    request: Request,
    uow: UoW,
    settings: Settings,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    pages = pages_of(request)
    try:
        issued = login(uow, settings, email=email, password=password, now=utc_now(), client=client_of(request))
    except LoginThrottledError as error:
        message = f"Too many failed sign-ins; try again in {error.retry_after_seconds} s."
        return pages.render(request, "login.html", status_code=429, next=next, error=message, email=email)
    except AuthenticationError:
        return pages.render(
            request, "login.html", status_code=401, next=next, error="Wrong email or password.", email=email
        )
    response = RedirectResponse(safe_next(pages.prefix, next), status_code=303)
    max_age = int((issued.expires_at - utc_now()).total_seconds()) if issued.expires_at else None
    response.set_cookie(
        COOKIE,
        issued.token,
        max_age=max_age,
        path=pages.prefix,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )
    return response


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, uow: UoW) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        sign_out(uow, token, now=utc_now())
        uow.commit()
    prefix = pages_of(request).prefix
    response = RedirectResponse(f"{prefix}/login", status_code=303)
    response.delete_cookie(COOKIE, path=prefix)
    return response
