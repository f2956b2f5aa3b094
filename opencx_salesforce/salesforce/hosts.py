"""Where the plugin may send its bearer token.

The token endpoint's answer names the org's ``instance_url`` (every REST call
goes there) and the identity URL ``id`` (the plugin calls it with the access
token). Both are taken from the network, so neither is trusted as given: a
compromised or spoofed login host could point them anywhere, and the plugin would
hand the org's access token to that address.

A URL is accepted when it is

* on the login URL's own origin (scheme, host and port): a My Domain login URL
  answers with itself, and so does the local emulator on loopback; or
* https on one of Salesforce's domains below.

Salesforce hosts orgs under ``*.my.salesforce.com`` (with ``.sandbox.``,
``.develop.``, ``.scratch.`` partitions) and instance hosts ``*.salesforce.com``,
older My Domains under ``*.force.com`` and ``*.cloudforce.com``, Government Cloud
Plus under ``*.salesforce.mil``, and the Alibaba-hosted orgs under
``*.sfcrmproducts.cn``. [src: Salesforce Help "My Domain URL Formats"
(products.domain_name_app_url_changes.htm); the .mil and .cn suffixes are
UNCONFIRMED against a live org]
"""

from __future__ import annotations

from urllib.parse import urlsplit

from opencx_salesforce.salesforce.errors import UntrustedURL

SALESFORCE_DOMAINS = (
    "salesforce.com",
    "force.com",
    "cloudforce.com",
    "salesforce.mil",
    "sfcrmproducts.cn",
)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def on_salesforce_domain(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in SALESFORCE_DOMAINS)


def check_org_url(url: str, *, login_url: str, what: str) -> str:
    """``url`` if the plugin may send its token there; else :class:`UntrustedURL`
    naming ``what`` (``"instance_url"``, ``"id"``) and the rule it broke. The
    message never repeats more of the answer than its scheme and host."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        raise UntrustedURL(f"the token endpoint's {what} is not a URL", url=login_url) from None
    if parts.username or parts.password:
        raise UntrustedURL(f"the token endpoint's {what} carries a user name", url=login_url)
    if _origin(url) == _origin(login_url) and parts.hostname:
        return url
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme == "https" and on_salesforce_domain(host):
        return url
    shown = f"{scheme}://{host}" if host else repr(scheme + ":")
    raise UntrustedURL(
        f"the token endpoint's {what} points at {shown[:80]}, which is neither the "
        "login URL's own host nor an https address on Salesforce's domains; the "
        "plugin does not send the org's token there (check the Login URL setting)",
        url=login_url,
    )
