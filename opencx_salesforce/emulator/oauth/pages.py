"""HTML for the login host's pages: login, "Allow Access?", and the remote access
error page. Rendered with jinja2, autoescaped; the pages carry no script.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from opencx_salesforce.emulator.oauth.outcomes import ApprovalPage, ErrorPage, LoginPage
from opencx_salesforce.emulator.oauth.paths import APPROVAL_PATH, LOGIN_PATH, LOGOUT_PATH
from opencx_salesforce.emulator.oauth.scopes import labelled

TEMPLATES_DIR = Path(__file__).parent / "templates"

# No framing (the Allow button must not be clickjacked), no Referer carrying the
# authorization request, nothing cached.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action *; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def login_html(page: LoginPage) -> str:
    prefix = page.realm.prefix
    return _render(
        "login.html",
        title="Login | Salesforce",
        login_action=prefix + LOGIN_PATH,
        logout_url=prefix + LOGOUT_PATH,
        start_url=page.start_url,
        username=page.username,
        error=page.error,
        remembered=page.remembered,
        display=page.display,
        app_name=page.app_name,
        sandbox=bool(prefix),
    )


def approval_html(page: ApprovalPage) -> str:
    prefix = page.realm.prefix
    return _render(
        "approve.html",
        title="Allow Access?",
        action=prefix + APPROVAL_PATH,
        logout_url=prefix + LOGOUT_PATH,
        request_id=page.request_id,
        app_name=page.app_name,
        scope_rows=labelled(page.scopes),
        username=page.username,
        display=page.display,
    )


def error_html(page: ErrorPage) -> str:
    # The real page shows the raw parameters, percent-encoded, e.g.
    # "error=invalid_client_id&error_description=client%20identifier%20invalid".
    # [src: forcedotcom/postman-salesforce-apis issue 42; pozil/salesforce-react-integration
    # issue 15]
    raw = f"error={quote(page.error)}&error_description={quote(page.description)}"
    return _render(
        "error.html",
        title="Remote Access Authorization Error",
        error=page.error,
        description=page.description,
        raw=raw,
    )
