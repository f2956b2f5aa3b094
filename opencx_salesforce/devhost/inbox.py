"""The reference host's inbox: every conversation with its messages, author and
role, its status, and the Salesforce Case it is on.

A page for people evaluating the product (and the demo's ``--keep-running``),
behind the host's admin check like the rest of the host's pages.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from opencx_salesforce.devhost.admin import LOGIN_PATH, AdminAuth
from opencx_salesforce.devhost.pages import SECURITY_HEADERS
from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.store.base import Store

INBOX_PATH = "/inbox"

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _web_link(url: object) -> str | None:
    """``url`` when it is an http(s) address, else None: the Case link comes from
    session metadata, and a ``javascript:`` or ``data:`` URL there must not
    become a link someone clicks."""
    if not isinstance(url, str):
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


_templates.filters["web_link"] = _web_link


class Inbox:
    def __init__(self, store: Store, admin: AdminAuth) -> None:
        self._store = store
        self._admin = admin

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get(INBOX_PATH, self._list),
            web.get(INBOX_PATH + "/{session_id}", self._detail),
        ]

    def _check(self, request: web.Request) -> None:
        if not self._admin.is_admin(request):
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={request.path}")

    async def _list(self, request: web.Request) -> web.Response:
        self._check(request)
        sessions = await SessionRepository(self._store).all()
        sessions.sort(key=lambda s: s.created_at, reverse=True)
        selected = sessions[0] if sessions else None
        return _render("inbox.html", sessions=sessions, selected=selected)

    async def _detail(self, request: web.Request) -> web.Response:
        self._check(request)
        repository = SessionRepository(self._store)
        selected = await repository.get(request.match_info["session_id"])
        if selected is None:
            raise web.HTTPNotFound(text="no such conversation")
        sessions = await repository.all()
        sessions.sort(key=lambda s: s.created_at, reverse=True)
        return _render("inbox.html", sessions=sessions, selected=selected)


def _render(name: str, **context: object) -> web.Response:
    text = _templates.get_template(name).render(**context)
    return web.Response(text=text, content_type="text/html", headers=SECURITY_HEADERS)
