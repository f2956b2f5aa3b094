"""What an emulated org starts with: its users, its Connected Apps, its custom
fields and its limits. Tests build orgs from these (an org lacking a field, an app
still activating, a nearly spent API limit); ``default_org()`` is the ready org
that ``opencx-salesforce emulator`` and the demo start with."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CustomFieldSeed:
    """A custom field declared on an object of the org (API name ends in ``__c``)."""

    sobject: str
    name: str  # API name, e.g. "Case_From__c"
    type: str = "string"  # describe type: string, textarea, boolean, double, picklist, ...
    length: int = 255
    label: str | None = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    picklist_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserSeed:
    username: str
    password: str
    first_name: str
    last_name: str
    email: str
    # User.UserType: "Standard" (internal), "PowerCustomerSuccess"/"CspLitePortal"
    # (portal / community users), "AutomatedProcess", ...
    user_type: str = "Standard"
    profile: str = "System Administrator"
    is_active: bool = True


@dataclass(frozen=True)
class ConnectedAppSeed:
    name: str
    client_id: str
    client_secret: str
    callback_urls: tuple[str, ...]
    scopes: tuple[str, ...] = ("api", "full", "refresh_token", "offline_access")
    # "Refresh token rotation": each refresh returns a new refresh token and the
    # old one stops working. [src: help.salesforce.com remoteaccess_oauth_refresh_token_flow.htm]
    rotate_refresh_tokens: bool = False
    # A new Connected App takes 2–10 minutes before it can be used; until then the
    # token endpoint refuses it. Seconds from the emulator's start.
    activation_delay: float = 0.0
    # Username the client-credentials flow runs as ("Run As" user); None: flow off.
    client_credentials_user: str | None = None
    # Admin-approved-only apps refuse users not pre-authorised.
    admin_approved_users: tuple[str, ...] | None = None


DEFAULT_CUSTOM_FIELDS: tuple[CustomFieldSeed, ...] = (
    CustomFieldSeed("Case", "Case_From__c", "string", 40, label="Case From"),
    CustomFieldSeed(
        "Case",
        "OpenCX_Session_Id__c",
        "string",
        255,
        label="OpenCX Session Id",
        external_id=True,
        unique=True,
    ),
    CustomFieldSeed("Case", "OpenCX_Language__c", "string", 40, label="Language"),
)


@dataclass(frozen=True)
class OrgSeed:
    name: str = "Acme Support"
    users: tuple[UserSeed, ...] = ()
    apps: tuple[ConnectedAppSeed, ...] = ()
    custom_fields: tuple[CustomFieldSeed, ...] = DEFAULT_CUSTOM_FIELDS
    is_sandbox: bool = False
    # Access tokens are sessions; they expire once unused for the session timeout
    # (default two hours; oauth/store.py AccessToken). [src: api_meta
    # meta_error_handling_session_exp.htm]
    session_timeout: float = 7200.0
    # DailyApiRequests Max (Developer Edition: 15,000). [src: resources_limits.htm]
    daily_api_limit: int = 15000
    api_version: str = "62.0"
    # EmailMessage "is only available for orgs that use Email-to-Case or Enhanced
    # Email" [src: object_reference sforce_api_objects_emailmessage.htm, Special
    # Access Rules]: False makes an org with neither (no EmailMessage object).
    email_messages: bool = True
    # Messaging (MessagingSession) on: the org has a Messaging side. False makes an
    # org without Messaging, where the object does not exist.
    messaging: bool = True
    # Case Status picklist and which values count as closed (CaseStatus.IsClosed).
    case_statuses: tuple[tuple[str, bool], ...] = (
        ("New", False),
        ("Working", False),
        ("Escalated", False),
        ("Closed", True),
    )
    extra: dict[str, str] = field(default_factory=dict)


DEMO_CLIENT_ID = "3MVG9demo.opencx.emulator.client"
DEMO_CLIENT_SECRET = "demo-client-secret-0123456789"


def default_org(callback_urls: tuple[str, ...] = ()) -> OrgSeed:
    """A ready org: an admin who connects the plugin, a support rep, a portal user,
    and a Connected App for the plugin."""
    return OrgSeed(
        users=(
            UserSeed("admin@acme.example", "admin-password", "Ada", "Admin", "admin@acme.example"),
            UserSeed(
                "rep@acme.example",
                "rep-password",
                "Riley",
                "Rep",
                "rep@acme.example",
                profile="Standard User",
            ),
            UserSeed(
                "portal@customer.example",
                "portal-password",
                "Pat",
                "Portal",
                "portal@customer.example",
                user_type="PowerCustomerSuccess",
                profile="Customer Community User",
            ),
        ),
        apps=(
            ConnectedAppSeed(
                name="OpenCX",
                client_id=DEMO_CLIENT_ID,
                client_secret=DEMO_CLIENT_SECRET,
                callback_urls=callback_urls,
                client_credentials_user="admin@acme.example",
            ),
        ),
    )
