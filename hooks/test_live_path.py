"""The live_path example plugin, asked through the host's plugin manager the
way the Salesforce plugin asks it."""

from __future__ import annotations

import pluggy
from live_path import LivePath

from opencx_salesforce.hookspecs import PROJECT_NAME, ExtensionHooks
from opencx_salesforce.live.routing import choose_path
from opencx_salesforce.models import Session
from opencx_salesforce.settings.live import LiveSettings

SETTINGS = LiveSettings(
    scrt_url="https://acme.my.salesforce-scrt.com",
    org_id="00D5g000000AbCdEAB",
    deployment="Live_Chat",
    channels=["chat"],
)


def manager(plugin: LivePath) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(ExtensionHooks)
    pm.register(plugin, name="live-path")
    return pm


async def test_free_plans_stay_on_the_case_path_others_follow_the_channel() -> None:
    pm = manager(LivePath(case_for={"plan": "free"}))
    free = Session(id="s-1", metadata={"plan": "free"})
    paid = Session(id="s-2", metadata={"plan": "pro"})
    assert await choose_path(pm, SETTINGS, free) == "case"
    assert await choose_path(pm, SETTINGS, paid) == "live"


def test_the_acknowledgement_is_in_the_sessions_language() -> None:
    plugin = LivePath(acknowledgements={"fr": "Personne n'est disponible."})
    pm = manager(plugin)
    said = pm.hook.salesforce_live_acknowledgement(
        session=Session(id="s-1", language="fr-CA"), reason="no_agent"
    )
    assert said == "Personne n'est disponible."
    assert (
        pm.hook.salesforce_live_acknowledgement(
            session=Session(id="s-2", language="en"), reason="no_agent"
        )
        is None
    )
