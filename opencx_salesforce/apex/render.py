"""Write the Salesforce DX project an admin deploys: fields, Named Credential, signing
secret, Apex class, triggers, tests and a README. Every file comes from a template in
``templates/``; this module validates the inputs and decides which files exist."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import jinja2

from opencx_salesforce.apex import contract, digest_contract, names
from opencx_salesforce.errors import ConfigError

SecretVisibility = Literal["Public", "Protected"]

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
SOURCE_DIR: Final = Path("force-app/main/default")

# Oldest API version the generated Apex compiles against: <type>__mdt.getInstance()
# arrived in Spring '21 (API 51.0).
MIN_API_VERSION: Final = 51
# ExternalCredential metadata and NamedCredential's namedCredentialType arrived in API
# 56.0. [src: api_meta meta_externalcredential.htm "available in API version 56.0 and
# later"]
MIN_EXTERNAL_CREDENTIAL_API_VERSION: Final = 56
# NamedCredential.Endpoint is textarea(1000).
# [src: object_reference sforce_api_objects_namedcredential.htm]
MAX_ENDPOINT_LENGTH: Final = 1000
MIN_SECRET_LENGTH: Final = 16

_API_VERSION_RE = re.compile(r"^(\d{2,3})\.0$")
# A custom field API name: begins with a letter, then letters, digits and underscores,
# no two underscores in a row, not ending in one, at most 40 characters before "__c".
# [src: object_reference DeveloperName rules ("must begin with a letter, not include
#  spaces, not end with an underscore, and not contain two consecutive underscores")]
_FIELD_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)__c$")
_FIELD_NAME_MAX = 40


@dataclass(frozen=True)
class _Options:
    webhook_url: str
    signing_secret: str | None
    api_version: str
    case_from_value: str
    session_id_field: str
    secret_visibility: SecretVisibility
    include_email: bool
    legacy_named_credential: bool
    include_messaging: bool


def render_package(
    out_dir: Path,
    *,
    webhook_url: str,
    signing_secret: str | None,
    api_version: str = "62.0",
    case_from_value: str = names.DEFAULT_CASE_FROM_VALUE,
    session_id_field: str = names.DEFAULT_SESSION_ID_FIELD,
    secret_visibility: SecretVisibility = "Public",
    include_email: bool = True,
    legacy_named_credential: bool = False,
    include_messaging: bool = False,
) -> list[Path]:
    """Write the Salesforce DX project into ``out_dir`` and return the files written.

    ``signing_secret`` is the install's (the plugin makes one unless its settings
    opt out with ``webhook_signing = false``); ``None`` is that opt-out: no secret
    record, the Apex sends unsigned calls and the README says what that costs.
    ``secret_visibility`` is the Custom Metadata Type's visibility; keep "Public"
    for an unmanaged deploy (see the generated README, "Why these choices").
    ``include_email=False`` leaves out everything about EmailMessage (the trigger, the
    class's email code and tests), for orgs without Email-to-Case or Enhanced Email,
    where EmailMessage doesn't exist and such code would not compile.
    ``legacy_named_credential=True`` writes the deprecated legacy Named Credential
    instead of the current Named Credential + External Credential + permission set.
    ``include_messaging=True`` (live Messaging configured) adds the session-id field
    to MessagingSession, which exists only in orgs with Messaging.
    Raises :class:`~opencx_salesforce.errors.ConfigError` naming the bad argument."""
    api_version = _check_api_version(api_version)
    if not legacy_named_credential and _major(api_version) < MIN_EXTERNAL_CREDENTIAL_API_VERSION:
        raise ConfigError(
            f"api_version: External Credentials need API {MIN_EXTERNAL_CREDENTIAL_API_VERSION}.0 "
            f"or later, got {api_version}; generate the legacy Named Credential instead "
            "(legacy_named_credential / --legacy-named-credential)"
        )
    options = _Options(
        webhook_url=_check_webhook_url(webhook_url),
        signing_secret=_check_signing_secret(signing_secret),
        api_version=api_version,
        case_from_value=_check_case_from_value(case_from_value),
        session_id_field=_check_session_id_field(session_id_field),
        secret_visibility=_check_visibility(secret_visibility),
        include_email=bool(include_email),
        legacy_named_credential=bool(legacy_named_credential),
        include_messaging=bool(include_messaging),
    )
    environment = _environment()
    context = _context(options)
    written: list[Path] = []
    for relative, template_name in _plan(options).items():
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = environment.get_template(template_name).render(context)
        target.write_text(text, encoding="utf-8", newline="\n")
        written.append(target)
    record = out_dir / _settings_record_path()
    if options.signing_secret is None:
        # A previous render into the same folder may have left a secret behind; an
        # unsigned package must not deploy it.
        record.unlink(missing_ok=True)
    else:
        record.chmod(0o600)
    return written


# -- what gets written ------------------------------------------------------------------


def _settings_record_path() -> Path:
    return SOURCE_DIR / "customMetadata" / f"{names.SETTINGS_RECORD_FULL_NAME}.md-meta.xml"


def _plan(options: _Options) -> dict[Path, str]:
    """Output path (relative to the project) -> template name."""
    objects = SOURCE_DIR / "objects"
    classes = SOURCE_DIR / "classes"
    triggers = SOURCE_DIR / "triggers"
    plan: dict[Path, str] = {
        Path("sfdx-project.json"): "sfdx-project.json.j2",
        Path("README.md"): "README.md.j2",
        Path("scripts/apex/ping.apex"): "ping.apex.j2",
        Path(names.START_DIGEST_SCRIPT): "start-digest.apex.j2",
        Path(names.STOP_DIGEST_SCRIPT): "stop-digest.apex.j2",
        Path("disconnect/package.xml"): "disconnect-package.xml.j2",
        Path("disconnect/destructiveChanges.xml"): "destructiveChanges.xml.j2",
        objects / "Case/fields" / f"{names.CASE_FROM_FIELD}.field-meta.xml": (
            "Case_From__c.field-meta.xml.j2"
        ),
        objects / "Case/fields" / f"{options.session_id_field}.field-meta.xml": (
            "SessionId.field-meta.xml.j2"
        ),
        objects / names.SETTINGS_TYPE / f"{names.SETTINGS_TYPE}.object-meta.xml": (
            "OpenCX_Settings__mdt.object-meta.xml.j2"
        ),
        objects / names.SETTINGS_TYPE / "fields" / f"{names.SIGNING_SECRET_FIELD}.field-meta.xml": (
            "Signing_Secret__c.field-meta.xml.j2"
        ),
        SOURCE_DIR / "namedCredentials" / f"{names.NAMED_CREDENTIAL}.namedCredential-meta.xml": (
            "OpenCX_Integration.legacy.namedCredential-meta.xml.j2"
            if options.legacy_named_credential
            else "OpenCX_Integration.namedCredential-meta.xml.j2"
        ),
        SOURCE_DIR / "permissionsets" / f"{names.PERMISSION_SET}.permissionset-meta.xml": (
            "OpenCX_Integration.permissionset-meta.xml.j2"
        ),
        classes / f"{names.CALLOUT_CLASS}.cls": "OpenSalesforceCaseManagement.cls.j2",
        classes / f"{names.CALLOUT_CLASS}.cls-meta.xml": "ApexClass.cls-meta.xml.j2",
        classes / f"{names.TEST_CLASS}.cls": "OpenSalesforceCaseManagementTest.cls.j2",
        classes / f"{names.TEST_CLASS}.cls-meta.xml": "ApexClass.cls-meta.xml.j2",
        classes / f"{names.DIGEST_CLASS}.cls": "OpenCXDigest.cls.j2",
        classes / f"{names.DIGEST_CLASS}.cls-meta.xml": "ApexClass.cls-meta.xml.j2",
        classes / f"{names.DIGEST_TEST_CLASS}.cls": "OpenCXDigestTest.cls.j2",
        classes / f"{names.DIGEST_TEST_CLASS}.cls-meta.xml": "ApexClass.cls-meta.xml.j2",
    }
    for trigger in names.triggers(include_email=options.include_email):
        plan[triggers / f"{trigger}.trigger"] = f"{trigger}.trigger.j2"
        plan[triggers / f"{trigger}.trigger-meta.xml"] = "ApexTrigger.trigger-meta.xml.j2"
    if not options.legacy_named_credential:
        credential = f"{names.EXTERNAL_CREDENTIAL}.externalCredential-meta.xml"
        plan[SOURCE_DIR / "externalCredentials" / credential] = (
            "OpenCX_Webhook.externalCredential-meta.xml.j2"
        )
        callout_set = f"{names.CALLOUT_PERMISSION_SET}.permissionset-meta.xml"
        plan[SOURCE_DIR / "permissionsets" / callout_set] = (
            "OpenCX_Webhook_Callout.permissionset-meta.xml.j2"
        )
    if options.include_messaging:
        field = f"{names.MESSAGING_SESSION}/fields/{options.session_id_field}.field-meta.xml"
        plan[objects / field] = "MessagingSessionId.field-meta.xml.j2"
    if options.signing_secret is not None:
        plan[_settings_record_path()] = "OpenCX_Settings.Default.md-meta.xml.j2"
    return plan


def _context(options: _Options) -> dict[str, Any]:
    return {
        "c": contract,
        "d": digest_contract,
        "lookback_minutes": digest_contract.LOOKBACK_MINUTES,
        "n": names,
        "webhook_url": options.webhook_url,
        "signing_secret": options.signing_secret,
        "signed": options.signing_secret is not None,
        "api_version": options.api_version,
        "case_from_value": options.case_from_value,
        "session_id_field": options.session_id_field,
        "session_id_label": _label_from_api_name(options.session_id_field),
        "secret_visibility": options.secret_visibility,
        "triggers": list(names.triggers(include_email=options.include_email)),
        "include_email": options.include_email,
        "legacy_named_credential": options.legacy_named_credential,
        "include_messaging": options.include_messaging,
        "external_credential_principal": (
            f"{names.EXTERNAL_CREDENTIAL}-{names.EXTERNAL_CREDENTIAL_PRINCIPAL}"
        ),
    }


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # XML templates escape every value; Apex values go through apex_string; the
        # README and the JSON file take values that are validated above.
        autoescape=_autoescape_xml,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["apex_string"] = apex_string_literal
    return environment


def _autoescape_xml(template_name: str | None) -> bool:
    return template_name is not None and template_name.endswith(".xml.j2")


def apex_string_literal(value: str) -> str:
    """``value`` as an Apex single-quoted string literal.

    Apex escapes a quote and a backslash with a backslash; line breaks can't appear in
    a literal, so they (and other control characters) are refused rather than guessed."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ConfigError(f"cannot put control characters in Apex source: {value!r}")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _label_from_api_name(api_name: str) -> str:
    """The field label for an API name: OpenCX_Session_Id__c -> OpenCX Session Id
    (a field label holds 40 characters)."""
    return api_name.removesuffix("__c").replace("_", " ")[:40]


# -- validation -------------------------------------------------------------------------


def _check_webhook_url(url: str) -> str:
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise ConfigError("webhook_url: must not contain spaces or control characters")
    if len(url) > MAX_ENDPOINT_LENGTH:
        raise ConfigError(
            f"webhook_url: {len(url)} characters; a Named Credential URL holds "
            f"{MAX_ENDPOINT_LENGTH}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"webhook_url: expected an http(s) URL with a host, got {url!r}")
    if parts.fragment:
        raise ConfigError("webhook_url: a fragment (#...) is never sent; remove it")
    return url


def _check_signing_secret(secret: str | None) -> str | None:
    if secret is None:
        return None
    if not secret.isascii() or not all(33 <= ord(ch) <= 126 for ch in secret):
        # Printable ASCII only: the Apex and Python sides then agree byte for byte
        # on what Blob.valueOf / str.encode produce.
        raise ConfigError("signing_secret: use printable ASCII characters without spaces")
    if not MIN_SECRET_LENGTH <= len(secret) <= names.SIGNING_SECRET_LENGTH:
        raise ConfigError(
            f"signing_secret: expected {MIN_SECRET_LENGTH} to {names.SIGNING_SECRET_LENGTH} "
            f"characters, got {len(secret)}"
        )
    return secret


def _check_api_version(version: str) -> str:
    match = _API_VERSION_RE.match(version)
    if not match or int(match.group(1)) < MIN_API_VERSION:
        raise ConfigError(
            f"api_version: expected a Salesforce API version like '62.0', at least "
            f"{MIN_API_VERSION}.0, got {version!r}"
        )
    return version


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _check_case_from_value(value: str) -> str:
    if not value or value != value.strip():
        raise ConfigError("case_from_value: must be non-empty, without leading or trailing spaces")
    if len(value) > names.CASE_FROM_LENGTH:
        raise ConfigError(
            f"case_from_value: {names.CASE_FROM_FIELD} holds {names.CASE_FROM_LENGTH} "
            f"characters, got {len(value)}"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ConfigError("case_from_value: must not contain control characters (line breaks)")
    return value


def _check_session_id_field(name: str) -> str:
    stem = name.removesuffix("__c")
    if not _FIELD_NAME_RE.match(name) or len(stem) > _FIELD_NAME_MAX:
        raise ConfigError(
            f"session_id_field: {name!r} is not a custom field API name (a letter, then "
            "letters, digits and single underscores, at most 40 characters, ending in __c)"
        )
    if name.lower() == names.CASE_FROM_FIELD.lower():
        raise ConfigError(f"session_id_field: must differ from {names.CASE_FROM_FIELD}")
    return name


def _check_visibility(visibility: str) -> SecretVisibility:
    if visibility == "Public":
        return "Public"
    if visibility == "Protected":
        return "Protected"
    raise ConfigError(f"secret_visibility: expected 'Public' or 'Protected', got {visibility!r}")
