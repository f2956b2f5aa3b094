"""The browser sign-in of ``opencx-salesforce connect``: print the Salesforce
sign-in URL, then catch the browser's return on the loopback Redirect URI with a
temporary web server, wait for a host already listening there to finish it, or
take the address the admin pastes. Used by :mod:`.connect` when the
client-credentials flow is not chosen or not available.
"""

from __future__ import annotations

import asyncio
import errno
import time
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qsl, urlsplit

from opencx_salesforce.commands._connect_session import (
    ConnectContext,
    message_lines,
    renewal_note,
    say_connected,
    status_lines,
)

if TYPE_CHECKING:
    from aiohttp import web

    from opencx_salesforce.salesforce.tokens import ConnectionStatus

_LOOPBACK = ("localhost", "127.0.0.1", "::1")


async def browser_flow(ctx: ConnectContext, *, paste: bool, timeout: float) -> int:
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


async def _paste(ctx: ConnectContext) -> int:
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


async def _complete(ctx: ConnectContext, query: dict[str, str]) -> tuple[int, list[str]]:
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
        return 1, message_lines(messages.callback_message(exc, ctx.redirect_uri))
    except TransportError as exc:
        return 1, message_lines(messages.unreachable_message(exc.message))
    except SalesforceError as exc:
        return 1, [f"Salesforce answered unexpectedly: {exc.message}"]
    return 0, [*status_lines(status), *await renewal_note(ctx)]


async def _wait_for_host(ctx: ConnectContext, before: ConnectionStatus, timeout: float) -> int:
    from opencx_salesforce.salesforce.tokens import ConnectionState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await ctx.tokens.status()
        if status.state is ConnectionState.CONNECTED and status.connected_at != before.connected_at:
            return await say_connected(ctx, status)
        await asyncio.sleep(0.5)
    ctx.say(f"No connection within {timeout:.0f} s. Run the command again.")
    return 1


class _CallbackListener:
    """A temporary web server on the Redirect URI's loopback address: it takes
    the browser's return, finishes the sign-in, and shows the outcome."""

    def __init__(
        self, ctx: ConnectContext, runner: web.AppRunner, done: asyncio.Future[int]
    ) -> None:
        self._ctx = ctx
        self._runner = runner
        self.done = done

    @classmethod
    async def start(cls, ctx: ConnectContext, target: SplitResult) -> _CallbackListener:
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
