"""The reference host runtime: the "bot framework" side of the contract.

:class:`DevHost` implements :class:`opencx_salesforce.hookspecs.Host` on a
:class:`~opencx_salesforce.store.base.Store` and drives conversations the way a
bot host would: sessions are created, messages posted, the bot hands off, the
contact writes again. Plugins see it only through the hooks and the Host
protocol; it has no back door into any plugin.

Several instances may run in one process (tests do); they share nothing but the
store they are given.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Collection, Mapping
from typing import Any

from aiohttp import web

from opencx_salesforce.devhost import session_changes as changes
from opencx_salesforce.devhost.access_log import RedactingAccessLogger
from opencx_salesforce.devhost.admin import AdminAuth
from opencx_salesforce.devhost.api import SessionApi
from opencx_salesforce.devhost.config import HostSettings
from opencx_salesforce.devhost.hook_errors import HookError, HookErrorLog
from opencx_salesforce.devhost.inbox import Inbox
from opencx_salesforce.devhost.journal import (
    HookJournal,
    JournalEntry,
    JournalRetry,
    replay_unfinished,
)
from opencx_salesforce.devhost.listen import bind_socket, http_url
from opencx_salesforce.devhost.pages import BODY_TIMEOUT_KEY
from opencx_salesforce.devhost.plugin_routes import mount_plugin_routes
from opencx_salesforce.devhost.plugins import make_plugin_manager
from opencx_salesforce.devhost.sessions import SessionRepository, SessionStateError
from opencx_salesforce.errors import ConfigError
from opencx_salesforce.hookcalls import call_each
from opencx_salesforce.models import (
    Channel,
    Contact,
    HandoffReason,
    Message,
    Role,
    Session,
    SessionStatus,
)
from opencx_salesforce.settings.loader import did_you_mean
from opencx_salesforce.store import open_store
from opencx_salesforce.store.base import Store

log = logging.getLogger(__name__)

HOST_KEY: web.AppKey[DevHost] = web.AppKey("devhost")
# How long a stop waits for the requests in progress (a Kubernetes pod gets 30 s
# between SIGTERM and SIGKILL by default).
SHUTDOWN_SECONDS = 10.0


class DevHost:
    """A small host runtime implementing the Host protocol.

    >>> host = DevHost(settings, store=MemoryStore(), plugins={"salesforce": SalesforcePlugin()})
    >>> base_url = await host.start(port=0)
    >>> session = await host.create_session(topic="Refund")
    >>> await host.handoff(session.id, HandoffReason(code="requested"))
    >>> await host.stop()

    :param settings: the ``[host]`` settings.
    :param store: the store to use; the caller keeps ownership (the host does not
        close it). Default: the host opens ``settings.store_url`` and closes it.
    :param plugins: plugin instances by name, registered instead of the installed
        entry points (unless ``load_entrypoints`` is true).
    :param plugin_sections: the raw plugin tables of the config file, by name.
    :param load_entrypoints: load installed ``opencx`` entry points. Default: only
        when ``plugins`` is not given.
    """

    def __init__(
        self,
        settings: HostSettings,
        *,
        store: Store | None = None,
        plugins: Mapping[str, object] | None = None,
        plugin_sections: Mapping[str, Mapping[str, Any]] | None = None,
        load_entrypoints: bool | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._owns_store = store is None
        self._sections = {name: dict(section) for name, section in (plugin_sections or {}).items()}
        if load_entrypoints is None:
            load_entrypoints = plugins is None
        self.plugin_manager = make_plugin_manager(
            load_entrypoints=load_entrypoints, plugins=plugins or {}, only=settings.plugins
        )
        self._admin = AdminAuth(
            settings.admin_token_value(),
            secure_cookie=(settings.public_url or "").startswith("https://"),
            plugin_paths=lambda: [f"{p}/" for p in self.mounted_paths],
            store=lambda: self.store,
        )
        self._hook_errors = HookErrorLog()
        self._runner: web.AppRunner | None = None
        self._retry: JournalRetry | None = None  # while started
        self._base_url: str | None = None
        self.mounted_paths: list[str] = []
        self._session_repository: SessionRepository | None = None

    @property
    def _journal(self) -> HookJournal:
        return HookJournal(self.store)

    @property
    def _sessions(self) -> SessionRepository:
        # One repository per store: it keeps recent sessions parsed.
        store = self.store
        if self._session_repository is None or self._session_repository.store is not store:
            self._session_repository = SessionRepository(store)
        return self._session_repository

    # --- the Host protocol ------------------------------------------------------------
    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the host's store is opened by start()")
        return self._store

    @property
    def public_url(self) -> str:
        if self.settings.public_url:
            return self.settings.public_url
        if self._base_url:
            return self._base_url
        return http_url(self.settings.listen_host, self.settings.listen_port)

    def unknown_tables(self) -> list[str]:
        """A problem for each plugin table of the config that no loaded plugin
        reads (a misspelt ``[salesforc]``, ``[Salesforce]``): never silently
        ignored."""
        loaded = sorted(name for name, _ in self.plugin_manager.list_name_plugin())
        return [
            f"[{name}]: no loaded plugin is called {name!r}"
            + (did_you_mean(name, loaded) or f" (loaded: {', '.join(loaded) or 'none'})")
            for name in sorted(self._sections)
            if name not in loaded
        ]

    def plugin_config(self, name: str) -> Mapping[str, Any]:
        # A copy: a plugin cannot change what another plugin (or a restart) reads.
        return copy.deepcopy(self._sections.get(name, {}))

    async def get_session(self, session_id: str) -> Session | None:
        return await self._sessions.get(session_id)

    async def set_session_metadata(self, session_id: str, key: str, value: Any) -> None:
        await self.set_session_metadata_many(session_id, {key: value})

    async def set_session_metadata_many(self, session_id: str, values: Mapping[str, Any]) -> None:
        """Several keys in one write of the session (the optional member of the
        Host contract, see ``hookspecs.HostMetadataMany``)."""
        await self._sessions.update(session_id, changes.set_metadata(values))

    async def deliver_agent_message(
        self, session_id: str, text: str, author: str, external_id: str
    ) -> None:
        message = Message(
            id=_new_id("m"), role=Role.AGENT, text=text, author=author, external_id=external_id
        )
        await self._sessions.update(session_id, changes.add_agent_message(message))

    async def resolve_session(self, session_id: str) -> None:
        await self._sessions.update(session_id, changes.resolve)

    async def hand_back_to_bot(self, session_id: str, reason: str) -> None:
        """The bot is in charge again (status ``open``); ``reason`` is kept in the
        session's metadata as ``handed_back_reason``."""
        await self._sessions.update(session_id, changes.hand_back(reason))

    def is_admin(self, request: web.Request) -> bool:
        return self._admin.is_admin(request)

    # --- driving conversations (what a bot framework does) ----------------------------
    async def create_session(
        self,
        *,
        channel: Channel | str = Channel.CHAT,
        contact: Contact | None = None,
        topic: str = "",
        summary: str = "",
        language: str | None = None,
        priority: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        session = Session(
            id=_new_id("s"),
            channel=Channel(channel),
            contact=contact or Contact(),
            topic=topic,
            summary=summary,
            language=language,
            priority=priority,
            metadata=dict(metadata or {}),
        )
        await self._sessions.add(session)
        return session

    async def list_sessions(self) -> list[Session]:
        return await self._sessions.all()

    async def post_message(
        self, session_id: str, role: Role | str, text: str, author: str | None = None
    ) -> Message:
        """Append a message. A contact writing to a handed-off session calls
        ``on_contact_reengage`` with that message; a contact writing to a resolved
        one reopens it (the bot is in charge again, a later handoff starts anew)."""
        message = Message(id=_new_id("m"), role=Role(role), text=text, author=author)
        status_before: SessionStatus | None = None
        journal = None
        if message.role == Role.CONTACT:
            journal = self._journal.add(
                {"hook": "on_contact_reengage", "session_id": session_id, "message_id": message.id}
            )
        append = changes.append_message(message)

        def change(session: Session) -> Session:
            nonlocal status_before
            status_before = session.status  # the status this write replaced
            return append(session)

        try:
            written = journal.written if journal is not None else None
            session, _ = await self._sessions.update(session_id, change, after=written)
        except BaseException:
            if journal is not None:
                await self._journal.done(journal)
            raise
        if journal is None:
            return message
        if status_before != SessionStatus.HANDED_OFF:
            await self._journal.done(journal)
            return message
        await self._journaled(journal, "on_contact_reengage", session=session, messages=[message])
        return message

    async def handoff(self, session_id: str, reason: HandoffReason | None = None) -> Session:
        """Hand the conversation to a human: status ``handed_off``, then
        ``on_handoff``. Raises :class:`SessionStateError` if it already is."""
        reason = reason or HandoffReason()
        # Written down while the session is read; the change waits for it.
        journal = self._journal.add(
            {"hook": "on_handoff", "session_id": session_id, "reason": reason.model_dump()}
        )
        try:
            session, _ = await self._sessions.update(
                session_id, changes.hand_off, after=journal.written
            )
        except BaseException:
            await self._journal.done(journal)
            raise
        await self._journaled(journal, "on_handoff", session=session, reason=reason)
        return session

    async def _journaled(self, journal: JournalEntry, hook: str, **kwargs: Any) -> None:
        """Call ``hook``; cross its journal entry out when every plugin took it.
        A plugin that raised is called again (:class:`.journal.JournalRetry`):
        the session changed already, and the contact's words live in that call."""
        try:
            failed = await self._hook_call(hook, **kwargs)
        except BaseException:  # cancelled mid-call: the entry stays for every plugin
            if self._retry is not None:
                self._retry.add(journal.key)
            raise
        if not failed:
            await self._journal.done(journal)
            return
        await self._journal.keep(journal, failed)
        if self._retry is not None:
            self._retry.add(journal.key)
            log.warning(
                "%s for session %s failed in %s; the host calls it again in a while",
                hook,
                kwargs["session"].id,
                ", ".join(failed),
            )

    async def contact_leaves(self, session_id: str) -> None:
        """The contact closed the chat: ``on_contact_leave``, journaled like the
        other hook calls. The host changes nothing of its own here, so the
        journal entry is its record of the leave: without it, a crash (or a
        plugin failing the call) before the plugin's first write lost the
        leave, the session left handed off and the chat open."""
        session = await self._sessions.get(session_id)
        if session is None:
            raise SessionStateError(f"no session {session_id!r}")
        # The contact's last words at the leave: a replay after the contact
        # wrote again (came back, or a new handoff since) is not made.
        contact = [m.id for m in session.messages if m.role == Role.CONTACT]
        journal = self._journal.add(
            {
                "hook": "on_contact_leave",
                "session_id": session_id,
                "after": contact[-1] if contact else None,
            }
        )
        try:
            await journal.written
        except BaseException:
            await self._journal.done(journal)
            raise
        await self._journaled(journal, "on_contact_leave", session=session)

    # --- hook errors ------------------------------------------------------------------
    @property
    def routes(self) -> list[tuple[str, str]]:
        """Every route the running host serves, its own and the plugins' mounted
        ones, as (method, path template) pairs (the fuzz suite covers each)."""
        if self._runner is None:
            return []
        return sorted(
            (route.method, route.resource.canonical)
            for route in self._runner.app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        )

    @property
    def hook_errors(self) -> list[HookError]:
        """The most recent hook failures, oldest first."""
        return self._hook_errors.recent()

    def _record_hook_error(self, plugin: str, hook: str, error: Exception) -> None:
        self._hook_errors.record(plugin, hook, error)

    async def _call(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        return await call_each(self.plugin_manager, hook, kwargs, self._record_hook_error)

    async def _hook_call(
        self, hook: str, only: Collection[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Call ``hook`` (on the plugins ``only``, when given); the names of
        the plugins that raised (recorded in :attr:`hook_errors` too)."""
        failed: list[str] = []

        def on_error(plugin: str, hook_name: str, exc: Exception) -> None:
            failed.append(plugin)
            self._record_hook_error(plugin, hook_name, exc)

        await call_each(self.plugin_manager, hook, kwargs, on_error, only=only)
        return failed

    # --- lifecycle --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Where the host listens, e.g. ``http://127.0.0.1:8080`` (after start)."""
        if self._base_url is None:
            raise RuntimeError("the host is not started")
        return self._base_url

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        """Open the store, start the plugins, mount their routes and listen.

        A plugin raising :class:`ConfigError` from ``plugin_started`` stops the
        start (the error propagates); other plugin errors are logged and kept in
        :attr:`hook_errors`.

        :return: the base URL the host listens at.
        """
        if self._runner is not None:
            raise RuntimeError("the host is already started")
        listen_host = host or self.settings.listen_host
        listen_port = self.settings.listen_port if port is None else port
        # Bind first, so public_url knows the real port before plugins start.
        sock = bind_socket(listen_host, listen_port)
        self._base_url = http_url(listen_host, sock.getsockname()[1])
        plugins_started = False
        try:
            if self._store is None:
                self._store = await _open_store(self.settings.store_url)
            plugins_started = True  # even a partial start gets plugin_stopping
            # Every configuration problem in one pass: tables no plugin reads, then
            # what the plugins themselves refuse.
            problems = self.unknown_tables()
            try:
                await call_each(
                    self.plugin_manager,
                    "plugin_started",
                    {"host": self},
                    self._record_hook_error,
                    reraise=(ConfigError,),
                )
            except ConfigError as exc:
                problems.append(str(exc))
            if problems:
                raise ConfigError("\n".join(problems))
            await replay_unfinished(self.store, self._hook_call)
            self._retry = JournalRetry(self.store, self._hook_call)
            self._retry.start()
            runner = web.AppRunner(
                await self._build_app(),
                access_log_class=RedactingAccessLogger,
                shutdown_timeout=SHUTDOWN_SECONDS,
            )
            await runner.setup()
            try:
                await web.SockSite(runner, sock).start()
            except BaseException:
                await runner.cleanup()
                raise
            self._runner = runner
        except BaseException:
            if self._retry is not None:
                await self._retry.stop()
                self._retry = None
            if plugins_started:
                await self._call("plugin_stopping", host=self)
            sock.close()
            await self._close_store()
            self._base_url = None
            raise
        return self._base_url

    async def stop(self) -> None:
        """Stop listening (the requests in progress finish, within
        :data:`SHUTDOWN_SECONDS`), then stop the plugins, then close the store
        the host opened. The plugins stopped first used to refuse the requests
        still coming in (``PluginNotStarted``), answered 2xx all the same: a
        rolling restart lost handoffs."""
        if self._runner is None:
            return
        await self._runner.cleanup()
        self._runner = None
        if self._retry is not None:
            await self._retry.stop()
            self._retry = None
        await self._call("plugin_stopping", host=self)
        await self._close_store()

    async def _close_store(self) -> None:
        if self._owns_store and self._store is not None:
            await self._store.close()
            self._store = None

    async def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._admin.middleware])
        app[HOST_KEY] = self
        app[BODY_TIMEOUT_KEY] = self.settings.body_read_timeout_seconds
        app.add_routes(SessionApi(self).routes())
        app.add_routes(self._admin.routes())
        app.add_routes(Inbox(self.store, self._admin).routes())
        self.mounted_paths = await mount_plugin_routes(
            app, self.plugin_manager, self._record_hook_error
        )
        return app


async def _open_store(url: str) -> Store:
    try:
        return await open_store(url)
    except ValueError as exc:
        raise ConfigError(f"host.store_url: {exc}") from exc


def _new_id(kind: str) -> str:
    return f"{kind}_{secrets.token_hex(8)}"
