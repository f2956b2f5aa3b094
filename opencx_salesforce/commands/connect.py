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

The browser sign-in lives in :mod:`._connect_browser`; the state every step works
on (token manager, store, terminal output) in :mod:`._connect_session`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from opencx_salesforce.commands import Subparsers
from opencx_salesforce.commands._connect_browser import browser_flow
from opencx_salesforce.commands._connect_session import (
    ConnectContext,
    explain,
    plugin_state,
    say_connected,
    status_lines,
)

if TYPE_CHECKING:
    from opencx_salesforce.devhost.config import HostSettings
    from opencx_salesforce.settings import SalesforceSettings

FLOWS = ("auto", "client-credentials", "browser")
DEFAULT_TIMEOUT = 600.0  # the TokenManager keeps a pending sign-in 10 minutes


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
        "--status",
        action="store_true",
        help="print the connection status and exit (0 when connected, 1 when not)",
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
    from opencx_salesforce.commands.config_file import load_install_config
    from opencx_salesforce.settings import load_settings

    host_settings, sections = load_install_config(args.config)
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
    async with plugin_state(host_settings, settings) as (tokens, oauth, store):
        ctx = ConnectContext(tokens, oauth, store, settings, redirect_uri, out, stdin)
        if action == "status":
            return await _print_status(ctx)
        if action == "disconnect":
            return await _disconnect(ctx)
        return await _connect(ctx, flow, paste=paste, timeout=timeout)


# --- status and disconnect ----------------------------------------------------------


async def _print_status(ctx: ConnectContext) -> int:
    from opencx_salesforce.salesforce.tokens import ConnectionState

    status = await ctx.tokens.status()
    for line in status_lines(status, ctx.redirect_uri):
        ctx.say(line)
    return 0 if status.state is ConnectionState.CONNECTED else 1


async def _disconnect(ctx: ConnectContext) -> int:
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


async def _connect(ctx: ConnectContext, flow: str, *, paste: bool, timeout: float) -> int:
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
        return explain(ctx, credential_check_message(check, creds.login_url, ctx.redirect_uri))

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
            return await say_connected(ctx, status)

    if not callback_ok:
        return explain(ctx, credential_check_message(check, creds.login_url, ctx.redirect_uri))
    return await browser_flow(ctx, paste=paste, timeout=timeout)
