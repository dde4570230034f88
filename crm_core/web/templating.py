"""Rendering pages: one Jinja2 environment with autoescaping on for every template.

User text reaches pages only through `{{ }}`, which escapes it; nothing is marked safe except
markup we build ourselves (charts), so stored text renders as text, never as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    entity: str
    action: Action = Action.READ


NAV = (
    NavLink("My lists", "/", "contact"),
    NavLink("Accounts", "/accounts", "account"),
    NavLink("Deals", "/deals", "deal"),
    NavLink("Tickets", "/tickets", "ticket"),
    NavLink("Segments", "/segments", "segment"),
    NavLink("Models", "/models", "model"),
    NavLink("Jobs", "/jobs", "job"),
)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)}%"


def _when(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _money(value: Decimal | float | None) -> str:
    return "–" if value is None else f"{float(value):,.2f}"


class Pages:
    """The template environment plus what every page shows: who is signed in and the nav."""

    def __init__(self, prefix: str, extra_dirs: Sequence[Path] = ()) -> None:
        self.prefix = prefix
        loaders = [FileSystemLoader(str(path)) for path in (*extra_dirs, TEMPLATES)]
        self.environment = Environment(
            loader=ChoiceLoader(loaders), autoescape=True, undefined=StrictUndefined, trim_blocks=True
        )
        self.environment.filters.update(percent=_percent, when=_when, money=_money)

    def nav(self, principal: Principal | None) -> list[NavLink]:
        if principal is None:
            return []
        return [link for link in NAV if principal.scope(link.entity, link.action) is not Scope.NONE]

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        principal = getattr(request.state, "principal", None)
        page = self.environment.get_template(name).render(
            prefix=self.prefix,
            viewer=principal,
            csrf=getattr(request.state, "csrf", ""),
            nav=self.nav(principal),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(page, status_code=status_code)


def pages_of(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
