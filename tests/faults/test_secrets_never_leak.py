"""No client secret, access token or refresh token in any log line (DEBUG) or any
page the fault suite saw.

Every test of the suite is scanned as it ends (``conftest.leak_watch``): its
logs, the pages and answers it received, the host processes' output. This test
adds the paths where secrets are handled most, with refresh-token rotation so
that several generations of each token exist, checks that the scan does catch a
planted secret, and prints what the whole run covered.
"""

from __future__ import annotations

import dataclasses

import aiohttp
from faults_support import (
    FAST_RETRIES,
    PREFIX,
    WATCH,
    HostApi,
    connect_with_browser,
    talk,
)

from opencx_salesforce.devhost.stack import start_stack
from opencx_salesforce.devhost.waiting import wait_for
from opencx_salesforce.emulator.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, default_org
from opencx_salesforce.store.memory import MemoryStore

WRONG_SECRET = "a-wrong-client-secret-pasted-by-mistake"


async def test_no_secret_in_any_log_or_page(http: aiohttp.ClientSession) -> None:
    org_seed = default_org()
    rotating = dataclasses.replace(org_seed.apps[0], rotate_refresh_tokens=True)
    stack = await start_stack(
        store=MemoryStore(),
        seed=dataclasses.replace(org_seed, apps=(rotating,)),
        plugin_settings=FAST_RETRIES,
        connect=False,
    )
    admin_token = stack.host.settings.admin_token_value()
    api = HostApi(http, stack.host_url, admin_token)
    script = {"Authorization": f"Bearer {admin_token}", "Accept": "application/json"}
    WATCH.secret(WRONG_SECRET, "client secret")
    try:
        # A wrong secret first (refused and explained), then the real one.
        async with http.post(
            f"{stack.host_url}{PREFIX}/admin/credentials",
            json={
                "client_id": DEMO_CLIENT_ID,
                "client_secret": WRONG_SECRET,
                "login_url": stack.emulator.base_url,
            },
            headers=script,
        ) as response:
            WATCH.seen("Save Credentials refusing a wrong secret", await response.text())
            assert response.status == 400
        connect = {
            "admin_token": admin_token,
            "login_url": stack.emulator.base_url,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        }
        assert (await connect_with_browser(stack.host_url, **connect))["state"] == "connected"

        async def drained() -> bool:
            return not await stack.runtime.outbox.items()

        # Work, sessions expiring (refresh, rotation) three times over.
        for round_ in range(3):
            conversation = await talk(api, f"secrets{round_}")
            await api.handoff(conversation.session_id)
            await wait_for(drained, what="the handoff")
            stack.emulator.state.auth.expire_access_tokens(stack.org.id)
        assert stack.runtime.tokens.refreshes >= 2
        await api.settings_page()
        await api.status()

        # Revoked: the refresh fails, the page explains; then reconnect, disconnect.
        stack.emulator.state.auth.revoke_all(stack.org.id)
        conversation = await talk(api, "secrets-revoked")
        await api.handoff(conversation.session_id)

        async def needs_reconnect() -> bool:
            return bool((await api.status())["state"] == "needs_reauthorization")

        await wait_for(needs_reconnect, what="needs reauthorization")
        await api.settings_page()
        assert (await connect_with_browser(stack.host_url, **connect))["state"] == "connected"
        async with http.post(
            f"{stack.host_url}{PREFIX}/admin/disconnect", json={}, headers=script
        ) as response:
            WATCH.seen("Disconnect's answer", await response.text())
            assert response.status == 200
        await api.settings_page()
    finally:
        await stack.close()

    leaks = WATCH.scan()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)

    # The scan is not blind: a planted token is found.
    some_token = next(v for v, (what, _) in WATCH.secrets.items() if what == "refresh token")
    WATCH.seen("a planted canary", f"... refresh_token={some_token} ...")
    assert len(WATCH.scan()) == 1

    kinds = WATCH.counts()
    print(
        f"\nsecrets watched: {sum(kinds.values())} "
        f"({', '.join(f'{what}: {n}' for what, n in sorted(kinds.items()))}); "
        f"texts scanned this run: {WATCH.texts_scanned} "
        f"({WATCH.chars_scanned / 1e6:.1f} MB of logs, pages and host output); leaks: 0"
    )
    assert kinds["access token"] >= 4 and kinds["refresh token"] >= 3
