"""``opencx-salesforce connect``: connect the plugin to Salesforce from a terminal.

Everything the settings page does, without a browser on the server: the Client
ID, Client Secret and Login URL come from the config file's ``[salesforce]``
table or ``OPENCX_SALESFORCE_*`` variables (or were saved on the page before);
the grant is stored in the host's store, where the running host reads it.

* With the client-credentials flow (a Connected App with a Run As user) it
  connects without any browser.
* Otherwise it prints the Salesforce sign-in URL. When the Redirect URI is on
  this machine (localhost / 127.0.0.1) and its port is free, it listens there
  for the browser's return; when the host itself is running on that port, the
  host finishes the sign-in and this command waits for it; otherwise the admin
  pastes the address the browser ended on.

``--status`` prints the connection; ``--disconnect`` revokes and forgets it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import functools
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import SplitResult, parse_qsl, urlsplit

from opencx_salesforce.commands import Subparsers

if TYPE_CHECKING:
    from aiohttp import web

    from opencx_salesforce.devhost.config import HostSettings
    from opencx_salesforce.salesforce.oauth import OAuthClient
    from opencx_salesforce.salesforce.tokens import ConnectionStatus, TokenManager
    from opencx_salesforce.settings import SalesforceSettings
    from opencx_salesforce.store.base import Store
    from opencx_salesforce.web.admin.messages import Message

FLOWS = ("auto", "client-credentials", "browser")
DEFAULT_TIMEOUT = 600.0  # the TokenManager keeps a pending sign-in 10 minutes
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "connect",
        help="connect the plugin to Salesforce from a terminal (no settings page needed)",
        description=(
            "Connect the plugin to Salesforce with the Client ID, Client Secret and Login "
            "URL of the config file's [salesforce] table (or OPENCX_SALESFORCE_* variables, "
            "or what was saved on the settings page). The grant is stored in the host's "
            "store. With the client-credentials flow no browser is needed; otherwise the "
            "command prints the sign-in URL and catches the browser's return on a "
            "localhost Redirect URI, or asks you to paste the address the browser ended on."
        ),
    )
    parser.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE",
        help="the host's TOML file (the same one `serve` uses)",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--status", action="store_true", help="print the connection status and exit"
    )
    action.add_argument(
        "--disconnect",
        action="store_true",
        help="revoke the grant at Salesforce and forget it (Cases stay untouched)",
    )
    parser.add_argument(
        "--flow",
        choices=FLOWS,
        default="auto",
        help=(
            "auto (default): client credentials when the Connected App allows it, else "
            "the browser sign-in; or force one"
        ),
    )
    parser.add_argument(
        "--paste",
        action="store_true",
        help="do not listen for the browser's return: paste the address it ended on",
    )
    parser.add_argument(
        "--redirect-uri",
        metavar="URI",
        help=(
            "the Callback URL registered on the Connected App (default: the host's "
            "public URL + /integrations/salesforce/oauth/callback)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the browser sign-in (default: 600)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from opencx_salesforce.devhost.config import load_config
    from opencx_salesforce.settings import load_settings

    host_settings, sections = load_config(args.config)
    settings = load_settings(sections.get("salesforce", {}))
    redirect_uri = args.redirect_uri or default_redirect_uri(host_settings)
    return asyncio.run(
        connect_command(
            host_settings,
            settings,
            redirect_uri=redirect_uri,
            action="status" if args.status else "disconnect" if args.disconnect else "connect",
            flow=args.flow,
            paste=args.paste,
            timeout=args.timeout,
            out=sys.stdout,
            stdin=sys.stdin,
        )
    )


def default_redirect_uri(host_settings: HostSettings) -> str:
    """The host's OAuth callback URL, as the running plugin computes it."""
    from opencx_salesforce.runtime import ROUTE_PREFIX

    public = host_settings.public_url
    if not public:
        listen = host_settings.listen_host
        if listen in ("0.0.0.0", "", "::"):
            listen = "127.0.0.1"  # where a browser on this machine reaches it
        if ":" in listen:
            listen = f"[{listen}]"
        public = f"http://{listen}:{host_settings.listen_port}"
    return f"{public}{ROUTE_PREFIX}/oauth/callback"


@dataclass
class _Context:
    tokens: TokenManager
    oauth: OAuthClient
    store: Store
    settings: SalesforceSettings
    redirect_uri: str
    out: TextIO
    stdin: TextIO

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)


async def connect_command(
    host_settings: HostSettings,
    settings: SalesforceSettings,
    *,
    redirect_uri: str,
    action: str = "connect",
    flow: str = "auto",
    paste: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    out: TextIO,
    stdin: TextIO,
) -> int:
    """The command itself (``run`` parses the arguments): ``action`` is
    ``connect``, ``status`` or ``disconnect``. Returns the exit code."""
    async with _plugin_state(host_settings, settings) as (tokens, oauth, store):
        ctx = _Context(tokens, oauth, store, settings, redirect_uri, out, stdin)
        if action == "status":
            return await _print_status(ctx)
        if action == "disconnect":
            return await _disconnect(ctx)
        return await _connect(ctx, flow, paste=paste, timeout=timeout)


@contextlib.asynccontextmanager
async def _plugin_state(
    host_settings: HostSettings, settings: SalesforceSettings
) -> AsyncIterator[tuple[TokenManager, OAuthClient, Store]]:
    """The plugin's token manager on the host's store, as the running plugin builds it."""
    import aiohttp

    from opencx_salesforce.errors import ConfigError
    from opencx_salesforce.outbox.queue import resume_waiting_for_admin
    from opencx_salesforce.salesforce.oauth import OAuthClient
    from opencx_salesforce.salesforce.secrets import SecretBox
    from opencx_salesforce.salesforce.tokens import ClientCredentials, TokenManager
    from opencx_salesforce.store import namespaces, open_store

    if host_settings.store_url.split(":", 1)[0].lower() == "memory":
        raise ConfigError(
            "host.store_url: memory:// keeps nothing after this command exits; connect "
            "with the store the host uses (sqlite:///PATH or redis://...)"
        )
    store = await open_store(host_settings.store_url)
    try:
        box = await SecretBox.from_settings(
            settings.encryption_key_value(), store=store, dev_mode=settings.dev_mode
        )
        configured = None
        secret = settings.client_secret_value()
        if settings.client_id and secret:
            configured = ClientCredentials(settings.login_url, settings.client_id, secret)
        async with aiohttp.ClientSession() as http:
            oauth = OAuthClient(http)
            # A running host's waiting work resumes as soon as this connects.
            resume = functools.partial(resume_waiting_for_admin, store, namespaces.OUTBOX)
            tokens = TokenManager(store, box, oauth, credentials=configured, on_connected=resume)
            yield tokens, oauth, store
    finally:
        await store.close()


# --- status and disconnect ----------------------------------------------------------


def status_lines(status: ConnectionStatus, redirect_uri: str | None = None) -> list[str]:
    from opencx_salesforce.web.admin.views import StatusLine

    line = StatusLine.of(status)
    lines = [f"Salesforce: {line.text}" + (f": {line.reason}" if line.reason else "")]
    if status.login_url:
        lines.append(f"  login URL:    {status.login_url}")
    if status.client_id:
        lines.append(f"  client ID:    {status.client_id}")
    if redirect_uri:
        lines.append(f"  redirect URI: {redirect_uri}")
    return lines


async def _print_status(ctx: _Context) -> int:
    from opencx_salesforce.salesforce.tokens import ConnectionState

    status = await ctx.tokens.status()
    for line in status_lines(status, ctx.redirect_uri):
        ctx.say(line)
    return 0 if status.state is ConnectionState.CONNECTED else 1


async def _disconnect(ctx: _Context) -> int:
    from opencx_salesforce.apex import names
    from opencx_salesforce.web.admin import connection
    from opencx_salesforce.web.admin.views import SalesforceCleanup

    done = await connection.disconnect(ctx.tokens, ctx.store)
    if done.revoked:
        ctx.say("Disconnected: Salesforce revoked the plugin's token, and it is deleted here.")
    elif done.unreadable:
        ctx.say(
            "Disconnected here. The stored token could not be decrypted with the configured "
            "encryption_key, so it could not be revoked at Salesforce: revoke the app's "
            "access in Setup > Connected Apps OAuth Usage."
        )
    else:
        ctx.say(
            "Disconnected here. Salesforce did not confirm a revocation (nothing was "
            "connected, or it could not be reached): to be sure, revoke the app's access "
            "in Setup > Connected Apps OAuth Usage."
        )
    cleanup = SalesforceCleanup(case_fields=(names.CASE_FROM_FIELD, ctx.settings.session_id_field))
    ctx.say("To finish, delete in Salesforce (the package's README has one command for it):")
    for line in connection.cleanup_lines(cleanup):
        ctx.say(f"  - {line}")
    ctx.say("Cases stay untouched; keep the Case fields " + " and ".join(cleanup.case_fields) + ".")
    for line in status_lines(await ctx.tokens.status()):
        ctx.say(line)
    return 0


# --- connect --------------------------------------------------------------------------


async def _connect(ctx: _Context, flow: str, *, paste: bool, timeout: float) -> int:
    from opencx_salesforce.errors import ConfigError
    from opencx_salesforce.salesforce.errors import AuthorizationError
    from opencx_salesforce.salesforce.oauth import CredentialCheckOutcome
    from opencx_salesforce.web.admin.messages import credential_check_message

    creds = await ctx.tokens.credentials()
    if creds is None:
        raise ConfigError(
            "salesforce.client_id and salesforce.client_secret: not set (set them in the "
            "config file, or OPENCX_SALESFORCE_CLIENT_ID and OPENCX_SALESFORCE_CLIENT_SECRET, "
            "or save them on the settings page)"
        )
    # The same check as Save Credentials: it names the wrong value before anyone
    # opens a browser.
    check = await ctx.oauth.check_client_credentials(
        creds.login_url, creds.client_id, creds.client_secret, ctx.redirect_uri
    )
    # A Callback URL mismatch only matters to the browser flow.
    callback_ok = check.outcome is not CredentialCheckOutcome.CALLBACK_MISMATCH
    if not check.ok and callback_ok:
        return _explain(ctx, credential_check_message(check, creds.login_url, ctx.redirect_uri))

    if flow in ("auto", "client-credentials"):
        try:
            status = await ctx.tokens.connect_client_credentials()
        except AuthorizationError as exc:
            if flow == "client-credentials":
                ctx.say(f"The client-credentials flow was refused ({exc.error}). {exc.hint}")
                return 1
            ctx.say(
                f"The client-credentials flow is not available ({exc.error}); signing in "
                "with a browser instead."
            )
        else:
            ctx.say("Connected with the client-credentials flow (the app's Run As user).")
            return _connected(ctx, status)

    if not callback_ok:
        return _explain(ctx, credential_check_message(check, creds.login_url, ctx.redirect_uri))
    return await _browser_flow(ctx, paste=paste, timeout=timeout)


def _explain(ctx: _Context, message: Message) -> int:
    for line in _message_lines(message):
        ctx.say(line)
    return 1


def _connected(ctx: _Context, status: ConnectionStatus) -> int:
    for line in status_lines(status):
        ctx.say(line)
    return 0


async def _browser_flow(ctx: _Context, *, paste: bool, timeout: float) -> int:
    before = await ctx.tokens.status()
    url = await ctx.tokens.start_authorization(ctx.redirect_uri, ctx.settings.scopes.split())
    ctx.say("Open this address in a browser, sign in to Salesforce and allow access:")
    ctx.say()
    ctx.say(f"  {url}")
    ctx.say()
    target = urlsplit(ctx.redirect_uri)
    if not paste and target.hostname in _LOOPBACK:
        try:
            listener = await _CallbackListener.start(ctx, target)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                ctx.say(f"Cannot listen on {target.netloc} ({exc.strerror or exc}).")
            else:
                # The host itself listens there: its callback route finishes the
                # sign-in (the pending state is in the shared store). Wait for it.
                ctx.say(
                    f"{target.netloc} is in use, so the host is probably running there: it "
                    "finishes the sign-in itself. Waiting for the connection…"
                )
                return await _wait_for_host(ctx, before, timeout)
        else:
            ctx.say(f"Waiting for the browser to come back to {ctx.redirect_uri} …")
            try:
                return await asyncio.wait_for(listener.done, timeout)
            except TimeoutError:
                ctx.say(f"No sign-in came back within {timeout:.0f} s. Run the command again.")
                return 1
            finally:
                await listener.close()
    return await _paste(ctx)


async def _paste(ctx: _Context) -> int:
    ctx.say("After allowing access, the browser ends on an address starting with")
    ctx.say(f"{ctx.redirect_uri}?… (the page itself may fail to load: that is fine).")
    ctx.say("Paste that whole address here and press Enter:")
    # Blocking read: nothing else runs while the admin pastes.
    line = ctx.stdin.readline().strip()
    if not line:
        ctx.say("Nothing was pasted.")
        return 1
    code, lines = await _complete(ctx, _callback_query(line))
    for text in lines:
        ctx.say(text)
    return code


def _callback_query(pasted: str) -> dict[str, str]:
    """The query of a pasted callback address (or of a bare ``code=…&state=…``)."""
    query = urlsplit(pasted).query if "://" in pasted else pasted.lstrip("?")
    return dict(parse_qsl(query))


async def _complete(ctx: _Context, query: dict[str, str]) -> tuple[int, list[str]]:
    """Finish the sign-in from the callback's query: exit code and what to say."""
    from opencx_salesforce.salesforce.errors import (
        AuthorizationError,
        SalesforceError,
        TransportError,
    )
    from opencx_salesforce.salesforce.oauth import callback_error
    from opencx_salesforce.web.admin import messages

    try:
        if "error" in query:
            raise callback_error(query["error"], query.get("error_description", ""))
        if not query.get("code") or not query.get("state"):
            raise AuthorizationError(
                "invalid_request",
                "the address carries no code or state",
                hint="Paste the whole address the browser ended on, starting with http.",
            )
        status = await ctx.tokens.complete_authorization(query["code"], query["state"])
    except AuthorizationError as exc:
        return 1, _message_lines(messages.callback_message(exc, ctx.redirect_uri))
    except TransportError as exc:
        return 1, _message_lines(messages.unreachable_message(exc.message))
    except SalesforceError as exc:
        return 1, [f"Salesforce answered unexpectedly: {exc.message}"]
    return 0, status_lines(status)


def _message_lines(message: Message) -> list[str]:
    lines = [f"{message.symptom}: {message.title}." if message.symptom else message.title]
    lines.append(message.text)
    if message.detail:
        lines.append(f"(details: {message.detail})")
    return lines


async def _wait_for_host(ctx: _Context, before: ConnectionStatus, timeout: float) -> int:
    from opencx_salesforce.salesforce.tokens import ConnectionState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await ctx.tokens.status()
        if status.state is ConnectionState.CONNECTED and status.connected_at != before.connected_at:
            return _connected(ctx, status)
        await asyncio.sleep(0.5)
    ctx.say(f"No connection within {timeout:.0f} s. Run the command again.")
    return 1


class _CallbackListener:
    """A temporary web server on the Redirect URI's loopback address: it takes
    the browser's return, finishes the sign-in, and shows the outcome."""

    def __init__(self, ctx: _Context, runner: web.AppRunner, done: asyncio.Future[int]) -> None:
        self._ctx = ctx
        self._runner = runner
        self.done = done

    @classmethod
    async def start(cls, ctx: _Context, target: SplitResult) -> _CallbackListener:
        from aiohttp import web

        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def callback(request: web.Request) -> web.Response:
            if done.done():
                return _page(["This sign-in is already finished."], status=410)
            code, lines = await _complete(ctx, dict(request.query))
            for text in lines:
                ctx.say(text)
            done.set_result(code)
            return _page([*lines, "You can close this window."], status=200 if code == 0 else 400)

        app = web.Application()
        app.router.add_get(target.path or "/", callback)
        runner = web.AppRunner(app, access_log=None)  # the query holds the code
        await runner.setup()
        port = target.port or 80
        try:
            await web.TCPSite(runner, target.hostname, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return cls(ctx, runner, done)

    async def close(self) -> None:
        await self._runner.cleanup()


def _page(lines: list[str], *, status: int) -> web.Response:
    import html

    from aiohttp import web

    body = "".join(f"<p>{html.escape(text)}</p>" for text in lines)
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>opencx-salesforce connect</title></head>"
        f"<body><h1>opencx-salesforce connect</h1>{body}</body></html>"
    )
    return web.Response(
        text=document,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
