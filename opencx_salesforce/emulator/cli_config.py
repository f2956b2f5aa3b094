"""How ``opencx-salesforce emulator`` builds and describes its emulator: the default
org shaped by the command's options, started on a loopback address, and the lines
that tell a person how to reach it. Kept apart from argument parsing so the demo
can start the same emulator."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from opencx_salesforce.emulator.app import Emulator
from opencx_salesforce.emulator.org import Org
from opencx_salesforce.emulator.package import deploy_package, deployment_of
from opencx_salesforce.emulator.seed import default_org
from opencx_salesforce.emulator.tls import LoopbackCertificate
from opencx_salesforce.errors import ConfigError


@dataclass(frozen=True)
class EmulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    callback_urls: tuple[str, ...] = ()  # the default Connected App's OAuth callbacks
    session_timeout: float | None = None  # seconds; None: the org's default (2 hours)
    latency_ms: float = 0.0  # added to every request of the org
    webhook_url: str | None = None  # deploy the package, webhooks going here
    signing_secret: str | None = None
    tls: LoopbackCertificate | None = None  # serve HTTPS with this certificate


def loopback_host(host: str) -> str:
    """``host`` if it is a loopback address: ``/_emulator`` has no authentication,
    so the emulator must not be reachable from other machines."""
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ConfigError(f"--host: {host!r} is not a loopback address (127.0.0.1, ::1, localhost)")
    return host


def check(options: EmulatorOptions) -> EmulatorOptions:
    loopback_host(options.host)
    if not 0 <= options.port <= 65535:
        raise ConfigError(f"--port: expected 0 to 65535, got {options.port}")
    if options.session_timeout is not None and options.session_timeout <= 0:
        raise ConfigError("--session-timeout: expected a number of seconds above 0")
    if options.latency_ms < 0:
        raise ConfigError("--latency-ms: expected 0 or more")
    if options.signing_secret is not None and options.webhook_url is None:
        raise ConfigError("--signing-secret: needs --webhook-url")
    return options


async def start_emulator(options: EmulatorOptions) -> tuple[Emulator, Org]:
    """The default org (see :func:`~opencx_salesforce.emulator.seed.default_org`)
    on a started emulator. Raises ConfigError for bad options, OSError when the
    address is taken."""
    check(options)
    seed = default_org(callback_urls=options.callback_urls)
    if options.session_timeout is not None:
        seed = replace(seed, session_timeout=options.session_timeout)
    emulator = Emulator()
    org = emulator.state.add_org(seed)
    org.faults.latency_ms = options.latency_ms
    ssl_context = options.tls.server_context() if options.tls is not None else None
    await emulator.start(host=options.host, port=options.port, ssl_context=ssl_context)
    if options.webhook_url is not None:
        # As the admin does: deploy, then start the digest (start-digest.apex).
        deploy_package(org, options.webhook_url, options.signing_secret).digest.start()
    return emulator, org


def describe(emulator: Emulator, org: Org) -> list[str]:
    """What a person needs to use the emulator; the first line ends with the base URL."""
    base = emulator.base_url
    seed = org.seed
    login = base + ("/sandbox" if seed.is_sandbox else "")
    lines = [
        f"Salesforce emulator listening on {base}",
        f"  org:              {seed.name} ({org.id})",
        f"  login URL:        {login}",
    ]
    for app in seed.apps:
        lines += [
            f"  Connected App:    {app.name}",
            f"    Client ID:      {app.client_id}",
            f"    Client Secret:  {app.client_secret}",
            f"    callback URLs:  {', '.join(app.callback_urls) or '(none: pass --callback-url)'}",
        ]
    lines.append("  users (username / password):")
    lines += [f"    {user.username} / {user.password}  ({user.profile})" for user in seed.users]
    lines += [
        f"  session timeout:  {seed.session_timeout:g} s unused (each call starts it again)",
        f"  Cases:            {base}/_emulator/",
        f"  Case view:        {base}/_emulator/orgs/{org.id}/cases/<Case Id>",
        f"  admin API:        {base}/_emulator/orgs/{org.id}/stats (faults, package, webhooks)",
        "  state:            in memory: a restart starts a fresh org (connect and deploy again)",
    ]
    deployment = deployment_of(org)
    if deployment.complete:
        lines.append(f"  package:          deployed, webhooks to {deployment.endpoint}")
    else:
        # Without the install's signing secret the package's calls go unsigned and
        # the plugin refuses them (doctor's ping fails with 401).
        cacert = " --cacert <the TLS CA file below>" if base.startswith("https://") else ""
        lines += [
            "  package:          not deployed yet; once the plugin shows its webhook URL:",
            "    <signing secret>: the <value> in the plugin's package (settings page, Download),",
            "      force-app/main/default/customMetadata/OpenCX_Settings.Default.md-meta.xml",
            "      (null only with webhook_signing = false); then start the digest",
            f"      (POST /_emulator/orgs/{org.id}/digest "
            '{"action": "start"}, docs/emulator-api.md)',
            f"    curl -X POST {base}/_emulator/orgs/{org.id}/package{cacert} "
            "-H 'Content-Type: application/json' "
            '-d \'{"webhookUrl": "<webhook URL>", "signingSecret": "<signing secret>"}\'',
        ]
    return lines
