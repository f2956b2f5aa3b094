"""The host contract and the extension hooks.

One pluggy project, ``"opencx"``, one entry-point group of the same name. The host
owns the :class:`pluggy.PluginManager`; it adds :class:`HostHooks` and this plugin
adds :class:`ExtensionHooks` to it, so extension plugins register with the same
``hookimpl`` marker.

Calling rules (they hold for every hook below):

* Hooks are called with keyword arguments only. An implementation may accept a
  subset of the arguments, so adding an argument later breaks nobody.
* An implementation may be ``async def``. pluggy itself is synchronous: the caller
  awaits every result that is awaitable (see :func:`resolve`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import pluggy

if TYPE_CHECKING:
    from aiohttp import web

    from opencx_salesforce.models import HandoffReason, Message, Session
    from opencx_salesforce.store.base import Store

PROJECT_NAME = "opencx"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


async def resolve(value: Any) -> Any:
    """Await ``value`` if it is awaitable; return it as it is otherwise."""
    if inspect.isawaitable(value):
        return await value
    return value


@runtime_checkable
class Host(Protocol):
    """What a plugin needs from the host runtime.

    The reference implementation is :class:`opencx_salesforce.devhost.host.DevHost`.
    """

    @property
    def store(self) -> Store:
        """The host's store. Sessions live there; plugins keep their own state in
        it under their own namespaces (see :mod:`opencx_salesforce.store`)."""
        ...

    @property
    def public_url(self) -> str:
        """The URL at which the host is reachable from outside, without a trailing
        slash, e.g. ``https://bot.example.com``. Used for the OAuth redirect URI
        and the webhook URL."""
        ...

    def plugin_config(self, name: str) -> Mapping[str, Any]:
        """The raw configuration section for plugin ``name`` (the ``[salesforce]``
        table of the host's TOML for this plugin), empty if there is none. The
        plugin validates it itself, together with its environment variables."""
        ...

    async def get_session(self, session_id: str) -> Session | None:
        """The session with its messages, or ``None`` if the host has none."""
        ...

    async def set_session_metadata(self, session_id: str, key: str, value: Any) -> None:
        """Set one key of ``Session.metadata`` (JSON-serialisable value)."""
        ...

    async def deliver_agent_message(
        self, session_id: str, text: str, author: str, external_id: str
    ) -> None:
        """Show ``text`` to the contact as a message from a human agent named
        ``author``. ``external_id`` identifies the source record (a Salesforce
        CaseComment or EmailMessage Id); a host may use it to dedupe."""
        ...

    async def resolve_session(self, session_id: str) -> None:
        """Mark the conversation resolved."""
        ...

    def is_admin(self, request: web.Request) -> bool:
        """Whether the request comes from an administrator of the host. The
        plugin's settings routes refuse everyone else."""
        ...


@runtime_checkable
class HandsBackToBot(Protocol):
    """An optional host capability: give a handed-off conversation back to the bot.

    Used when ``after_closure = "back_to_bot"`` and the contact wrote after the
    rep closed the Case: the bot is in charge again and the contact's last
    message is unanswered (the bot answers it). A host without it gets a
    follow-up Case instead, so the message still reaches a person.
    """

    async def hand_back_to_bot(self, session_id: str, reason: str) -> None:
        """Make the session the bot's again (no longer handed off, not resolved);
        ``reason`` says why, for the bot or a log."""
        ...


@runtime_checkable
class HostMetadataMany(Protocol):
    """Optional for a host: several keys of ``Session.metadata`` in one write.

    The plugin writes ``salesforce_case_id`` and ``salesforce_case_url``
    together; a host that offers this stores them with one write of the session
    instead of two. Without it the plugin calls
    :meth:`Host.set_session_metadata` once per key (:func:`set_metadata`)."""

    async def set_session_metadata_many(self, session_id: str, values: Mapping[str, Any]) -> None:
        """Set every key of ``values`` (JSON-serialisable values) at once."""
        ...


# Members a host may offer beyond :class:`Host` (the plugin looks for them).
OPTIONAL_HOST_MEMBERS = (
    "admin_login_url",
    "set_session_metadata_many",
    "hand_back_to_bot",
    "show_live_activity",
)


@functools.cache
def _type_offers_many(host_type: type) -> bool:
    # A runtime-checkable Protocol's isinstance inspects the object each call;
    # the host's class answers once (an instance's own attribute still counts,
    # through the isinstance after it).
    return callable(getattr(host_type, "set_session_metadata_many", None))


async def set_metadata(host: Host, session_id: str, values: Mapping[str, Any]) -> None:
    """Write ``values`` to the session's metadata: in one call when the host
    offers :class:`HostMetadataMany`, else one :meth:`Host.set_session_metadata`
    per key."""
    if _type_offers_many(type(host)) or isinstance(host, HostMetadataMany):
        await cast(HostMetadataMany, host).set_session_metadata_many(session_id, values)
        return
    for key, value in values.items():
        await host.set_session_metadata(session_id, key, value)


@runtime_checkable
class LiveActivityHost(Protocol):
    """An optional addition to :class:`Host`: a host that has this method is told
    what happens around a live chat (the plugin checks with ``isinstance``; a host
    without it keeps working and simply is not told)."""

    async def show_live_activity(self, session_id: str, kind: str, detail: str) -> None:
        """Show the contact what is happening in a live chat. ``kind`` is one of
        ``queued`` (detail: the estimated wait in seconds, or empty), ``agent_joined`` and
        ``agent_left`` (detail: the agent's name), ``typing_started`` and
        ``typing_stopped`` (detail: the agent's name)."""
        ...


class HostHooks:
    """Hooks the host calls; the plugin implements them."""

    @hookspec(historic=True)
    def add_hookspecs(self, pluginmanager: pluggy.PluginManager) -> None:
        """Add your own hookspecs to the host's manager (as pytest's
        ``pytest_addhooks``). The host calls it historically, before it loads
        plugins, so every plugin registered later sees the specs.

        :param pluginmanager: the host's manager.

        Example::

            @hookimpl
            def add_hookspecs(pluginmanager):
                pluginmanager.add_hookspecs(ExtensionHooks)
        """

    @hookspec
    def plugin_started(self, host: Host) -> Any:
        """The host is up and its store is open. Start background workers here.

        :param host: the running host (see :class:`Host`). Keep it: the other hooks
            do not pass it again.
        :return: nothing; may be a coroutine, which the host awaits.

        Example::

            @hookimpl
            async def plugin_started(host):
                app_state.host = host
        """

    @hookspec
    def plugin_stopping(self, host: Host) -> Any:
        """The host is shutting down. Stop workers; flush what must be flushed.

        :param host: the running host.
        :return: nothing; may be a coroutine, which the host awaits.
        """

    @hookspec
    def on_handoff(self, session: Session, reason: HandoffReason) -> Any:
        """The bot escalated ``session`` to a human.

        Must return quickly: persist the intent, do the slow work later, so that
        an outage never loses a handoff.

        :param session: the conversation, with its messages and contact.
        :param reason: why the bot handed off.
        :return: nothing; may be a coroutine, which the host awaits.

        Example::

            @hookimpl
            def on_handoff(session, reason):
                print(f"{session.id} handed off: {reason.code}")
        """

    @hookspec
    def on_contact_reengage(self, session: Session, messages: list[Message]) -> Any:
        """The contact wrote again after a handoff.

        :param session: the conversation, as it is now.
        :param messages: the new messages only, oldest first.
        :return: nothing; may be a coroutine, which the host awaits.
        """

    @hookspec
    def on_contact_leave(self, session: Session) -> Any:
        """The contact left the conversation (closed the chat window, said goodbye).
        A host that never calls it keeps working: a live chat then ends when the
        agent ends it.

        :param session: the conversation, as it is now.
        :return: nothing; may be a coroutine, which the host awaits.

        Example::

            @hookimpl
            def on_contact_leave(session):
                print(f"{session.id}: the contact left")
        """

    @hookspec
    def webhook_routes(self) -> web.Application | None:
        """An aiohttp sub-application for the host to mount under
        ``/integrations/<name>`` (this plugin: ``/integrations/salesforce``).

        :return: an :class:`aiohttp.web.Application`, or ``None`` for no routes.
            Must not be a coroutine: the host mounts routes before it starts.

        Example::

            @hookimpl
            def webhook_routes():
                app = web.Application()
                app.router.add_get("/hello", hello)
                return app
        """
        return None


class ExtensionHooks:
    """Hooks other plugins implement to shape what this plugin sends to Salesforce.

    The plugin registers these specs on the host's manager at startup, so an
    extension plugin uses the same ``hookimpl`` marker as everyone else.
    """

    @hookspec
    def salesforce_case_fields(self, session: Session, fields: dict[str, Any]) -> Any:
        """Extra fields for the Case created at handoff.

        :param session: the conversation being handed off.
        :param fields: the fields computed so far (read-only; return a new dict).
        :return: a ``dict`` of Case field API names to JSON values to merge in, or
            ``None`` for nothing; may be a coroutine. Two plugins setting the same
            field is an error naming both, and so is setting a field the plugin
            keeps for itself (``Case_From__c``, the session-id field). Each field is
            checked against the org's describe before anything is sent: an unknown
            field, a wrong type or a value too long is an error naming your plugin
            and the field.

        Example::

            @hookimpl
            def salesforce_case_fields(session):
                return {"Plan__c": session.metadata.get("plan", "free")}
        """

    @hookspec(firstresult=True)
    def salesforce_transcript(self, session: Session, messages: list[Message], title: str) -> Any:
        """Render the transcript that becomes the Case's comments.

        :param session: the conversation being handed off or appended.
        :param messages: the messages to render, oldest first.
        :param title: the title line the plugin puts above each body you return
            (``Conversation transcript · conversation s_123``); most
            implementations leave it out of their signature.
        :return: a ``list[str]`` of comment bodies in order (the plugin puts
            ``title`` and a blank line above each, then splits each to the
            4,000-byte CaseComment limit), or ``None`` to leave it to the next
            plugin or the default renderer; may be a coroutine. The first
            non-``None`` answer wins. A
            :class:`~opencx_salesforce.cases.transcript.TitledComments` (what the
            default renderer, :mod:`opencx_salesforce.defaults`, answers) already
            carries its titles: its bodies are written as they are.

        Example::

            @hookimpl
            def salesforce_transcript(messages):
                return ["\\n".join(f"{m.role}: {m.text}" for m in messages)]
        """

    @hookspec(firstresult=True)
    def salesforce_live_path(self, session: Session) -> Any:
        """Choose the path of one handoff: a live agent or a Case.

        :param session: the conversation being handed off.
        :return: ``"live"``, ``"case"``, or ``None`` to leave it to the next plugin
            or the ``[salesforce.live] channels`` setting; may be a coroutine. The
            first non-``None`` answer wins. ``"live"`` needs the Messaging
            deployment configured; without it the handoff becomes a Case.

        Example::

            @hookimpl
            def salesforce_live_path(session):
                return "case" if session.metadata.get("plan") == "free" else None
        """

    @hookspec(firstresult=True)
    def salesforce_live_acknowledgement(self, session: Session, reason: str) -> Any:
        """What the contact is told when a live handoff takes the fallback.

        :param session: the conversation.
        :param reason: why: ``routing_failed``, ``no_agent``, ``start_refused`` or
            ``token_refused``.
        :return: the text (in the session's language, say), or ``None`` for the
            ``acknowledgement`` setting; may be a coroutine.

        Example::

            @hookimpl
            def salesforce_live_acknowledgement(session, reason):
                if session.language == "fr":
                    return "Personne n'est disponible ; un conseiller vous répondra ici."
                return None
        """
