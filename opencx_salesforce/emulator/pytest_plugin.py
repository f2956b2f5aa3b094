"""pytest fixtures for testing against the local Salesforce emulator.

Installed with the package (entry point ``pytest11``), so a developer writing an
extension hook can test it against a real-HTTP Salesforce without any setup::

    async def test_my_hook(salesforce_emulator, salesforce_org):
        org = salesforce_org()               # a ready default org
        ...  # point the plugin at salesforce_emulator.base_url

or, to test a hook end to end (the guide, docs/extending.md, has a whole test)::

    async def test_my_hook(salesforce_stack, salesforce_handoff):
        stack = await salesforce_stack(plugins={"my-hook": MyHook()})
        session = await stack.host.create_session(topic="Refund")
        case = await salesforce_handoff(stack, session.id)
        assert case["Subject"] == "Refund"
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import pytest

# The fixtures import the emulator and the host when a test asks for them, not
# here: this module is a pytest11 entry point, loaded by every pytest run in an
# environment that has the package installed, most of which use no fixture.
if TYPE_CHECKING:
    from opencx_salesforce.devhost.stack import Stack
    from opencx_salesforce.emulator.app import Emulator
    from opencx_salesforce.emulator.org import Org
    from opencx_salesforce.emulator.seed import OrgSeed
    from opencx_salesforce.emulator.tls import LoopbackCertificate

# Retries in a test should take milliseconds, not the production seconds.
_FAST_RETRIES = {"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.5}


@pytest.fixture
async def salesforce_emulator() -> AsyncIterator[Emulator]:
    """A started emulator on a free loopback port; closed after the test."""
    from opencx_salesforce.emulator.app import Emulator

    emulator = Emulator()
    await emulator.start()
    try:
        yield emulator
    finally:
        await emulator.close()


@pytest.fixture(scope="session")
def salesforce_emulator_certificate(
    tmp_path_factory: pytest.TempPathFactory,
) -> LoopbackCertificate:
    """A local CA and a loopback server certificate, made once per test session.
    Trust ``.ca_file`` in the client under test (``SSL_CERT_FILE``,
    ``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``, or ``.client_context()``)."""
    from opencx_salesforce.emulator.tls import loopback_certificate

    return loopback_certificate(tmp_path_factory.mktemp("salesforce-emulator-tls"))


@pytest.fixture
async def salesforce_emulator_tls(
    salesforce_emulator_certificate: LoopbackCertificate,
) -> AsyncIterator[Emulator]:
    """Like :func:`salesforce_emulator`, over HTTPS: its ``base_url`` and the
    instance URLs its tokens carry are ``https://127.0.0.1:PORT``."""
    from opencx_salesforce.emulator.app import Emulator

    emulator = Emulator()
    await emulator.start(ssl_context=salesforce_emulator_certificate.server_context())
    try:
        yield emulator
    finally:
        await emulator.close()


@pytest.fixture
def salesforce_org(salesforce_emulator: Emulator) -> Callable[..., Org]:
    """A factory of orgs on the running emulator: ``salesforce_org()`` gives the
    default org; pass an :class:`OrgSeed` for another shape."""
    from opencx_salesforce.emulator.seed import default_org

    def make(seed: OrgSeed | None = None) -> Org:
        return salesforce_emulator.state.add_org(seed or default_org())

    return make


class StartStack(Protocol):
    """The type of the :func:`salesforce_stack` fixture."""

    def __call__(
        self,
        *,
        seed: OrgSeed | None = None,
        plugins: Mapping[str, object] | None = None,
        plugin_settings: Mapping[str, Any] | None = None,
    ) -> Awaitable[Stack]: ...


@pytest.fixture
async def salesforce_stack() -> AsyncIterator[StartStack]:
    """A factory of whole local stacks, each stopped after the test.

    ``await salesforce_stack(seed=..., plugins={name: plugin})`` starts an emulator
    with an org built from ``seed`` (default: :func:`default_org`), the reference
    host with the Salesforce plugin connected to that org over HTTP, and registers
    your extension ``plugins`` on the host under the given names (the names that
    errors will quote), before it starts, as a host loads plugins: a misspelt hook
    name fails loudly. ``plugin_settings`` are extra keys of the
    ``[salesforce]`` section. Returns the
    :class:`~opencx_salesforce.devhost.stack.Stack`: ``stack.host`` drives
    conversations, ``stack.org`` holds the records.
    """
    from opencx_salesforce.devhost.stack import start_stack
    from opencx_salesforce.store.memory import MemoryStore

    started: list[Stack] = []

    async def start(
        *,
        seed: OrgSeed | None = None,
        plugins: Mapping[str, object] | None = None,
        plugin_settings: Mapping[str, Any] | None = None,
    ) -> Stack:
        stack = await start_stack(
            store=MemoryStore(),
            seed=seed,
            plugin_settings={**_FAST_RETRIES, **(plugin_settings or {})},
            extra_plugins=plugins,
        )
        started.append(stack)
        return stack

    try:
        yield start
    finally:
        for stack in reversed(started):
            await stack.close()


class HandoffFailed(AssertionError):
    """The handoff was dead-lettered instead of making a Case. ``error`` is the
    message the outbox recorded (the one the settings page shows)."""

    def __init__(self, error: str) -> None:
        super().__init__(f"the handoff was dead-lettered: {error}")
        self.error = error


class Handoff(Protocol):
    """The type of the :func:`salesforce_handoff` fixture."""

    def __call__(
        self, stack: Stack, session_id: str, *, timeout: float = 10.0
    ) -> Awaitable[dict[str, Any]]: ...


@pytest.fixture
def salesforce_handoff() -> Handoff:
    """``await salesforce_handoff(stack, session_id)`` hands the session off, waits
    for the plugin to create the Case and returns the Case record as the org
    holds it. Raises :class:`HandoffFailed` if the handoff is dead-lettered (a
    hook's bad field, for one), :class:`AssertionError` after ``timeout``."""
    from opencx_salesforce.store.base import ItemState

    async def handoff(stack: Stack, session_id: str, *, timeout: float = 10.0) -> dict[str, Any]:
        await stack.host.handoff(session_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            session = await stack.host.get_session(session_id)
            case_id = session.metadata.get("salesforce_case_id") if session else None
            case = stack.org.get("Case", case_id) if case_id else None
            if case is not None:
                return dict(case)
            dead = await stack.runtime.outbox.items(ItemState.DEAD)
            if dead:
                raise HandoffFailed(dead[0].last_error or "no error recorded")
            await asyncio.sleep(0.02)
        raise AssertionError(f"no Case for session {session_id} after {timeout} s")

    return handoff


class ConnectHost(Protocol):
    """The type of the :func:`salesforce_connect` fixture."""

    def __call__(
        self,
        plugin_url: str,
        *,
        admin_headers: Mapping[str, str],
        seed: OrgSeed | None = None,
        deploy: bool = True,
    ) -> Awaitable[Org]: ...


@pytest.fixture
def salesforce_connect(salesforce_emulator: Emulator) -> ConnectHost:
    """Connect the Salesforce plugin of *any* running host to a new org on the
    emulator, the way an admin does, through the plugin's settings routes:
    ``org = await salesforce_connect("http://127.0.0.1:8080/integrations/salesforce",
    admin_headers={"Authorization": "Bearer <admin token>"})``.

    The org (``seed``, default :func:`default_org`) gets the plugin's Redirect
    URI as its Connected App's callback; the admin signs in on the emulator's
    pages; with ``deploy`` the package the settings page offers is deployed
    (pointing at the plugin's webhook URL, signed with its secret), so a rep's
    reply rings the host. Returns the org."""
    from opencx_salesforce.emulator.package import deploy_package
    from opencx_salesforce.emulator.seed import default_org
    from opencx_salesforce.testing.connect import (
        connect_through_settings,
        download_package,
        emulator_sign_in,
        package_signing_secret,
    )

    async def connect(
        plugin_url: str,
        *,
        admin_headers: Mapping[str, str],
        seed: OrgSeed | None = None,
        deploy: bool = True,
    ) -> Org:
        import aiohttp

        headers = {**admin_headers, "Accept": "application/json"}
        status_url = f"{plugin_url.rstrip('/')}/admin/status.json"
        async with aiohttp.ClientSession() as http, http.get(status_url, headers=headers) as r:
            if r.status != 200:
                raise AssertionError(f"{status_url}: HTTP {r.status}: {await r.text()}")
            redirect_uri = str((await r.json())["redirect_uri"])
        org = salesforce_emulator.state.add_org(seed or default_org())
        app = org.seed.apps[0]  # the org's Connected App
        salesforce_emulator.state.auth.set_callback_urls(app.client_id, [redirect_uri])
        admin = next(u for u in org.seed.users if u.profile == "System Administrator")
        status = await connect_through_settings(
            plugin_url,
            admin_headers=admin_headers,
            login_url=salesforce_emulator.base_url,
            client_id=app.client_id,
            client_secret=app.client_secret,
            sign_in=emulator_sign_in(admin.username, admin.password),
            timeout=30,
        )
        if deploy:
            # The package as the admin downloads it: its signing secret included.
            package = await download_package(plugin_url, admin_headers=admin_headers)
            deploy_package(org, str(status["webhook_url"]), package_signing_secret(package))
        return org

    return connect


# --- a clear word when the async set-up is missing --------------------------------------

_ASYNC_FIXTURES = frozenset(
    {
        "salesforce_emulator",
        "salesforce_org",
        "salesforce_stack",
        "salesforce_handoff",
        "salesforce_connect",
    }
)
SETUP_HINT = (
    "the opencx-salesforce emulator fixtures are async: install the test extra "
    "(pip install 'opencx-salesforce[testing]', which brings pytest-aiohttp and "
    'pytest-asyncio) and set asyncio_mode = "auto" under [tool.pytest.ini_options] '
    "in pyproject.toml (or asyncio_mode = auto under [pytest] in pytest.ini)"
)


def _async_ready(config: pytest.Config) -> bool:
    if not config.pluginmanager.hasplugin("asyncio"):
        return False
    try:
        mode = config.getini("asyncio_mode")
    except ValueError:  # the option is not registered: no pytest-asyncio
        return False
    option = getattr(config.option, "asyncio_mode", None)
    return str(option or mode) == "auto"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without pytest-asyncio in auto mode, pytest would only say that async
    functions are "not natively supported"; say instead what to install and set."""
    uses_ours = any(
        _ASYNC_FIXTURES.intersection(getattr(item, "fixturenames", ())) for item in items
    )
    if uses_ours and not _async_ready(config):
        raise pytest.UsageError(SETUP_HINT)
