"""Every setting of the plugin, with its type, default and the description
docs/configuration.md shows (``docs/_gen_config.py`` reads them, in this order).
How values are checked, alone and together, is :mod:`.model`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from opencx_salesforce.settings import checks, picklists
from opencx_salesforce.settings.live import LiveSettings
from opencx_salesforce.settings.loader import LoadableSettings


class SalesforceFields(LoadableSettings):
    """The fields of :class:`~opencx_salesforce.settings.model.SalesforceSettings`."""

    login_url: str = Field(
        default="https://login.salesforce.com",
        description=(
            "Where OAuth starts: https://login.salesforce.com for production, "
            "https://test.salesforce.com for sandboxes, or the org's My Domain URL "
            "(https://acme.my.salesforce.com). Plain http only to 127.0.0.1/localhost "
            "(the local emulator)."
        ),
    )
    client_id: str | None = Field(
        default=None,
        description=(
            "Consumer Key of the Connected App / External Client App. Optional here: "
            "the admin may paste it on the settings page instead."
        ),
    )
    client_secret: SecretStr | None = Field(
        default=None,
        description="Consumer Secret of the app. Optional here, like client_id.",
    )
    scopes: str = Field(
        default="full refresh_token offline_access",
        description=(
            "OAuth scopes requested at Connect, space-separated. Must include "
            "refresh_token (or its synonym offline_access): the plugin works in the "
            "background, long after the admin's browser session."
        ),
    )
    api_version: str = Field(
        default="62.0",
        description="Salesforce REST API version used in /services/data/vNN.N/ URLs.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key that encrypts the client secret and OAuth tokens in the store. "
            "Required unless dev_mode is on. " + checks.FERNET_HOWTO
        ),
    )
    dev_mode: bool = Field(
        default=False,
        description=(
            "Local trials only: when encryption_key is unset, secrets are encrypted with "
            "a key made once and kept in the same store, which protects nothing."
        ),
    )
    webhook_signing: bool = Field(
        default=True,
        description=(
            "Webhook calls must carry X-OpenCX-Signature: v1=<HMAC-SHA256> over "
            "'timestamp.body', and a signature is accepted once (replay cache). The "
            "secret is webhook_signing_secret, or else one generated per install and kept "
            "in the store; the generated package carries it. false (not recommended): "
            "unsigned calls, the URL's token alone admits them and a captured call can be "
            "replayed."
        ),
    )
    webhook_signing_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The webhook signing secret, when you want to choose it (at least 16 "
            "characters); unset, the install generates one (see webhook_signing)."
        ),
    )
    case_from_value: str = Field(
        default="opencx",
        description=(
            "Value written to Case_From__c on Cases the plugin creates; the Apex triggers "
            "only notify for Cases carrying it."
        ),
    )
    session_id_field: str = Field(
        default="OpenCX_Session_Id__c",
        description=(
            "External-id custom field on Case holding the session id, so a retried "
            "create upserts instead of making a second Case."
        ),
    )
    publish_transcript: bool = Field(
        default=False,
        description=(
            "Publish the transcript Case comments (IsPublished), making them visible to "
            "the contact in a customer portal. Off: internal comments."
        ),
    )
    create_contacts: bool = Field(
        default=False,
        description="Create a Contact for the person when no existing Contact matches.",
    )
    match_contacts: bool = Field(
        default=True,
        description=(
            "Look up an existing Contact by the person's email (then phone) and link it "
            "to the Case."
        ),
    )
    after_closure: Literal["follow_up", "back_to_bot"] = Field(
        default="follow_up",
        description=(
            "Where a contact's message written after the rep closed the Case goes: "
            "follow_up opens a new Case linked to the closed one (ParentId) carrying it; "
            "back_to_bot hands the session back to the bot with the message unanswered "
            "(a host without hand_back_to_bot gets follow_up). Either way the session is "
            "never resolved over an unread message."
        ),
    )
    origin_by_channel: dict[str, str] = Field(
        default_factory=lambda: dict(picklists.DEFAULT_ORIGIN_BY_CHANNEL),
        description=(
            "Case Origin picklist value per channel (email, phone, chat, web, sms, "
            "whatsapp). Channels you leave out keep their default."
        ),
    )
    priority_map: dict[str, str] = Field(
        default_factory=lambda: dict(picklists.DEFAULT_PRIORITY_MAP),
        description=(
            "Case Priority picklist value per session priority (case-insensitive). "
            "Priorities you leave out keep their default; unknown ones leave Priority "
            "to the org's default."
        ),
    )
    token_refresh_after_seconds: float = Field(
        default=6300.0,
        ge=0,
        description=(
            "Renew the access token before use once it is this old (0: only after "
            "Salesforce refuses it). Salesforce sends no expiry; keep this under the "
            "org's session timeout (two hours by default)."
        ),
    )
    sweep_interval_seconds: float = Field(
        default=60.0,
        ge=5,
        description=(
            "How often the reconciliation sweep reads what changed on the plugin's open "
            "Cases, catching replies and closures whose webhook was lost, while a "
            "conversation is in progress (activity in the last sweep_hot_seconds) or "
            "the webhooks are not known to be healthy (after a start, after a sweep "
            "that found something a webhook had missed, after a refused webhook call). "
            "A reply whose webhook was lost then arrives within this interval. One API "
            "call per sweep when nothing was missed. No call at all while the plugin "
            "has no open Case."
        ),
    )
    sweep_hot_seconds: float = Field(
        default=600.0,
        ge=0,
        description=(
            "How long after activity on the plugin's Cases (a handoff, the contact "
            "writing to an open Case, a webhook, a reply delivered) the sweep stays "
            "at sweep_interval_seconds. A conversation in progress is where replies "
            "come; each spell costs about sweep_hot_seconds / sweep_interval_seconds "
            "calls (10 at the defaults), whatever the number of Cases in it."
        ),
    )
    sweep_healthy_interval_seconds: float = Field(
        default=300.0,
        ge=5,
        description=(
            "How often the sweep runs with open Cases, healthy webhooks (the last "
            "sweep found nothing they had missed) and no activity in the last "
            "sweep_hot_seconds: one call per sweep, 288 calls a day at 300 s. A reply "
            "whose webhook alone was lost on such a quiet Case arrives within this "
            "interval; the sweep goes back to sweep_interval_seconds as soon as a loss "
            "is seen or anything happens."
        ),
    )
    sweep_digest_interval_seconds: float = Field(
        default=1800.0,
        ge=5,
        description=(
            "How often the sweep runs while the package's digest arrives on time (the "
            "org lists the changes on the plugin's Cases once a minute and calls the "
            'webhook with them, at no API call: see the package README, "The '
            "digest\"). The digest then catches a lost webhook's reply within about a "
            "minute, so the sweep is only the last resort: 48 calls a day at 1800 s."
        ),
    )
    digest_overdue_seconds: float = Field(
        default=180.0,
        ge=60,
        description=(
            "A digest not received for this long, after one was, counts as a lost "
            "webhook: the sweep runs at sweep_interval_seconds until one finds nothing "
            "missed, then as if no digest were scheduled (sweep_hot_seconds, "
            "sweep_healthy_interval_seconds) until digests arrive again."
        ),
    )
    reply_read_min_interval_seconds: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Every webhook for a Case is read at once, except that webhooks arriving "
            "while a read of that Case is in flight share one next read, which starts "
            "when that read ends (a burst costs at most two reads). Set this to make "
            "that next read wait until this long after the last one began: at most "
            "one read per Case per interval, whatever a stream of webhooks with "
            "nothing new (duplicates, retries) would cost, at the price of that much "
            "delay for a reply that follows another within the interval."
        ),
    )
    outbox_concurrency: int = Field(
        default=256,
        ge=1,
        le=1000,
        description=(
            "Outbox: how many jobs the plugin works on at once, at most. Handoffs that are "
            "ready while one is being sent wait for it and then go together in one "
            "composite graph request, so more workers means bigger batches and more "
            "handoffs per second, not more requests in flight (bench/RESULTS.md). An idle "
            "worker costs nothing (it sleeps until work is queued), so this is a ceiling: "
            "as many work as there are jobs ready. Salesforce only limits concurrent "
            "requests that run longer than 20 seconds."
        ),
    )
    dead_letter_after_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="Outbox: give up on a job (dead letter) once it has failed this long.",
    )
    backoff_base_seconds: float = Field(
        default=1.0,
        gt=0,
        description="Outbox: first retry delay; doubles on each failure (with jitter).",
    )
    backoff_cap_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Outbox: longest delay between two retries.",
    )
    webhook_max_body_bytes: int = Field(
        default=65536,
        ge=1024,
        le=10 * 1024 * 1024,
        description="Webhook bodies larger than this are refused with 413.",
    )
    webhook_body_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "Webhook calls whose body has not fully arrived this many seconds after the "
            "headers are refused with 408, so half-sent requests cannot hold connections."
        ),
    )
    webhook_timestamp_tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Webhook calls whose X-OpenCX-Timestamp is further than this from now are "
            "refused with 401 (replay window)."
        ),
    )

    case_fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Case fields from the session, without a plugin: field API name = template, "
            'e.g. Plan__c = "{metadata.plan}". Placeholders: metadata.<key>, '
            "session_id, channel, language, priority, topic, contact.name, "
            "contact.email, contact.phone. A field whose placeholder has no value is "
            "left out; extension hooks setting the same field win. Checked against "
            "the org's describe before each handoff."
        ),
    )
    metrics_listen: str | None = Field(
        default=None,
        description=(
            "Also serve /metrics, without the admin check, on a listener of its own at "
            "this host:port (e.g. 127.0.0.1:9464): bind it where only the scraper "
            "reaches. Unset: /metrics is only under the plugin's prefix, for admins."
        ),
    )
    retention_days: float = Field(
        default=180.0,
        ge=0,
        description=(
            "How long the plugin keeps what it knows of a closed Case (its session "
            "links, cursors, comment Ids, append marks) after the Case closed; then a "
            "background pass removes them, four times a day. Past that, a rep's new "
            "comment on the Case is not delivered, and the contact writing again "
            "gets a new Case linked to it. 0 keeps them for ever; otherwise at least "
            "90 (see docs/operations.md, 'How the store grows')."
        ),
    )
    health_outbox_stuck_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Readiness fails when an outbox job has been ready to run for longer than "
            "this without a worker taking it (the workers are stuck)."
        ),
    )
    live: LiveSettings = Field(
        default_factory=LiveSettings,
        description=(
            "Live Messaging: chat, SMS and WhatsApp handoffs to a rep in the Salesforce console."
        ),
    )
