"""The reference host's inbox: every conversation with its messages, author and
role, its status, and the Salesforce Case it is on.

A page for people evaluating the product (and the demo's ``--keep-running``),
behind the host's admin check like the rest of the host's pages.
"""

from __future__ import annotations

from aiohttp import web

from opencx_salesforce.devhost.admin import LOGIN_PATH, AdminAuth
from opencx_salesforce.devhost.pages import render_page
from opencx_salesforce.devhost.sessions import SessionRepository
from opencx_salesforce.models import Session
from opencx_salesforce.store.base import Store

INBOX_PATH = "/inbox"


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


def _render(name: str, *, sessions: list[Session], selected: Session | None) -> web.Response:
    return render_page(name, title="Inbox", sessions=sessions, selected=selected)
