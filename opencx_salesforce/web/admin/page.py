"""The settings page itself and what every settings route shares: the route
names, the page's URLs, rendering the page with notices, and answering with a
redirect back to it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web
from yarl import URL

from opencx_salesforce.apex import names
from opencx_salesforce.runtime import Runtime
from opencx_salesforce.salesforce.secrets import SecretsError
from opencx_salesforce.salesforce.tokens import ConnectionState
from opencx_salesforce.store.epoch import describe, still_unresolved
from opencx_salesforce.web.admin import access, connection, csrf, messages
from opencx_salesforce.web.admin.forms import (
    CredentialsInput,
)
from opencx_salesforce.web.admin.live_card import live_card
from opencx_salesforce.web.admin.messages import Message
from opencx_salesforce.web.admin.views import (
    CredentialsForm,
    LoginChoice,
    OutboxView,
    SalesforceCleanup,
    SettingsPage,
    StatusLine,
    Urls,
    digest_line,
    render,
)

# Whether the sign-in runs in the page's popup or in the page's own window (popup
# blocked, or no JavaScript): the callback answers each differently. Lax, because
# the callback arrives as a top-level navigation from Salesforce's site.
RETURN_COOKIE = "opencx_sf_oauth_return"
POPUP = "popup"
SAME_WINDOW = "window"
POPUP_BLOCKED = "window-popup-blocked"
RETURN_COOKIE_SECONDS = 600  # as long as the TokenManager keeps a pending sign-in

STATIC_FILES = {
    "admin.css": "text/css",
    "admin.js": "text/javascript",
    "callback.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}

# Route names (url_for gives the full path, with the host's prefix, once mounted).
R_ADMIN = "sf_admin"
R_CREDENTIALS = "sf_admin_credentials"
R_CONNECT = "sf_admin_connect"
R_CALLBACK = "sf_oauth_callback"
R_DISCONNECT = "sf_admin_disconnect"
R_STATUS = "sf_admin_status"
R_PACKAGE = "sf_admin_package"
R_RETRY = "sf_admin_retry"
R_CHECK = "sf_admin_check"
R_STATIC = "sf_static"


# --- the page ---------------------------------------------------------------------


def urls(request: web.Request) -> Urls:
    router = request.app.router

    def path(name: str) -> str:
        return str(router[name].url_for())

    return Urls(
        admin=path(R_ADMIN),
        credentials=path(R_CREDENTIALS),
        connect=path(R_CONNECT),
        disconnect=path(R_DISCONNECT),
        status_json=path(R_STATUS),
        package=path(R_PACKAGE),
        retry=path(R_RETRY),
        check=path(R_CHECK),
        static=str(router[R_STATIC].url_for(name="x"))[: -len("x")],
    )


async def settings_page(
    request: web.Request,
    services: Runtime,
    *,
    notices: list[Message] | None = None,
    entered: CredentialsInput | None = None,
    status: int = 200,
) -> web.Response:
    """The settings page; ``notices`` on top (else the ``?notice=`` of a redirect),
    ``entered`` refills the form after a refused save (never the secret)."""
    tokens = services.tokens
    current = await tokens.status()
    unreadable = bool(await tokens.unreadable_records())
    try:
        creds = await tokens.credentials()
    except SecretsError:
        creds = None  # saved with another key: the page says so and offers to save again
    saved_here = await connection.has_saved_credentials(services.host.store)
    # Not one character of the secret: only that there is one.
    hint = "A Client Secret is saved (not shown)" if creds else None
    if entered is not None:
        form = CredentialsForm(
            entered.client_id,
            LoginChoice(entered.choice, entered.custom_url),
            hint,
            from_config=False,
        )
    else:
        form = CredentialsForm(
            creds.client_id if creds else "",
            LoginChoice.for_url(creds.login_url if creds else services.settings.login_url),
            hint,
            from_config=creds is not None and not saved_here,
        )
    notice = request.query.get("notice", "")
    shown = list(notices) if notices is not None else _notices_from_query(request)
    wiped = store_wiped(services, current.connected_at)
    if wiped is not None:
        shown.insert(0, Message("The store lost its data", "The store was wiped", wiped))
    if unreadable:
        shown.insert(0, messages.SECRETS_UNREADABLE)
    refused = services.write_watch.refused if services.write_watch is not None else None
    if refused is not None:  # the reads above worked: say what they hide
        shown.insert(0, messages.store_refuses_writes_message(refused))
    live = current.state in (
        ConnectionState.CONNECTED,
        ConnectionState.NEEDS_REAUTHORIZATION,
    )
    link = urls(request)
    key = await csrf.CsrfKey.load(services.host.store)
    csrf_token, new_cookie = key.token_for(request)
    page = SettingsPage(
        urls=link,
        csrf_token=csrf_token,
        status=StatusLine.of(current),
        connected=live,
        can_connect=creds is not None,
        form=form,
        redirect_uri=services.redirect_uri,
        webhook_url=services.webhook_url if live else None,
        outbox=await OutboxView.read(services.outbox, services.clock.time()),
        cleanup=SalesforceCleanup(
            case_fields=(names.CASE_FROM_FIELD, services.settings.session_id_field)
        ),
        show_cleanup=live or unreadable or notice.startswith("disconnected"),
        messages=shown,
        secrets_unreadable=unreadable,
        signed_package=services.signing_secret is not None,
    )
    response = render(
        "settings.html",
        status=status,
        page=page,
        urls=link,
        replies=services.reply_status.to_json(),
        digest=digest_line(
            await services.digests.last_at(),
            services.clock.time(),
            services.settings.digest_overdue_seconds,
        ),
        live=await live_card(services),
    )
    if new_cookie is not None:
        secure = services.host.public_url.startswith("https://")
        csrf.set_cookie(response, new_cookie, path=link.admin, secure=secure)
    return response


def store_wiped(services: Runtime, connected_at: float | None) -> str | None:
    """What to tell the admin about a wipe of the store that nobody has
    recovered from yet (store/epoch.py), or None."""
    watch = services.store_watch
    wipe = watch.wiped if watch is not None else None
    if not still_unresolved(wipe, connected_at):
        return None
    assert wipe is not None
    return (
        f"{describe(wipe)[0].upper()}{describe(wipe)[1:]}. Connect again below; "
        "then give the store persistence so a restart keeps its data."
    )


def _notices_from_query(request: web.Request) -> list[Message]:
    """The message of a redirect after a POST (a fixed text per code: nothing
    from the URL is echoed)."""
    shown: list[Message] = []
    notice = messages.NOTICES.get(request.query.get("notice", ""))
    if notice is not None:
        count = request.query.get("count", "")
        # ASCII digits of a sane length: "²" is a digit to str.isdigit() but not to int().
        plain_number = count.isascii() and count.isdigit() and len(count) <= 9
        if notice is messages.NOTICES["retried"] and plain_number:
            notice = Message(
                "", notice.title, f"{int(count)} dead letter(s) queued again.", notice.kind
            )
        shown.append(notice)
    if request.query.get("popup") == "blocked":
        shown.append(messages.POPUP_BLOCKED_NOTE)
    return shown


async def refusal(
    request: web.Request, services: Runtime, message: Message, status: int
) -> web.Response:
    if access.wants_json(request) or not request.cookies:
        return web.json_response(message_json(message), status=status)
    return await settings_page(request, services, notices=[message], status=status)


def message_json(message: Message) -> dict[str, Any]:
    return {"error": message.title, **asdict(message)}


def see_other(url: str, **query: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(str(URL(url).with_query(query)) if query else url)
