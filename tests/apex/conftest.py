"""Rendered packages and their parse results, made once per test session.

The Apex parser runs in Node and takes a couple of seconds to start, so every package
variant is rendered first and all their Apex files are parsed in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from opencx_salesforce.apex import render_package
from opencx_salesforce.apex.checker import ParsedFile, apex_files, parse_apex

SIGNING_SECRET = "whsec_" + "A1b2C3d4E5f6G7h8I9j0"
WEBHOOK_URL = "https://bot.example.com/integrations/salesforce/webhook/t0k3n"
# Query characters that XML must escape, for the Named Credential endpoint.
ODD_WEBHOOK_URL = "https://bot.example.com/hook/t0k3n?tenant=a&b=<x>&q='\"%20"
ODD_CASE_FROM = 'o\'cx \\ "bot"'


@dataclass(frozen=True)
class Rendered:
    root: Path
    files: list[Path]
    parsed: dict[Path, ParsedFile]
    signing_secret: str | None
    webhook_url: str
    case_from_value: str
    include_email: bool = True
    legacy_named_credential: bool = False

    def source(self, relative: str) -> Path:
        return self.root / "force-app/main/default" / relative

    def parsed_file(self, relative: str) -> ParsedFile:
        return self.parsed[self.source(relative)]


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    variants: dict[str, dict[str, str | bool | None]] = {
        "signed": {"signing_secret": SIGNING_SECRET, "webhook_url": WEBHOOK_URL},
        "unsigned": {"signing_secret": None, "webhook_url": WEBHOOK_URL},
        "odd": {
            "signing_secret": SIGNING_SECRET,
            "webhook_url": ODD_WEBHOOK_URL,
            "case_from_value": ODD_CASE_FROM,
        },
        # An old org: no EmailMessage object, legacy Named Credential.
        "no-email-legacy": {
            "signing_secret": SIGNING_SECRET,
            "webhook_url": WEBHOOK_URL,
            "include_email": False,
            "legacy_named_credential": True,
        },
    }
    rendered: dict[str, tuple[Path, list[Path], dict[str, str | bool | None]]] = {}
    for name, options in variants.items():
        root = tmp_path_factory.mktemp(name)
        secret = options["signing_secret"]
        files = render_package(
            root,
            webhook_url=str(options["webhook_url"]),
            signing_secret=secret if isinstance(secret, str) else None,
            case_from_value=str(options.get("case_from_value") or "opencx"),
            include_email=options.get("include_email", True) is not False,
            legacy_named_credential=options.get("legacy_named_credential") is True,
        )
        rendered[name] = (root, files, options)
    every_apex_file = [path for root, _, _ in rendered.values() for path in apex_files(root)]
    parsed = {item.path: item for item in parse_apex(every_apex_file, outline=True)}
    return {
        name: Rendered(
            root=root,
            files=files,
            parsed={p: parsed[p] for p in apex_files(root)},
            signing_secret=(
                options["signing_secret"] if isinstance(options["signing_secret"], str) else None
            ),
            webhook_url=str(options["webhook_url"]),
            case_from_value=str(options.get("case_from_value") or "opencx"),
            include_email=options.get("include_email", True) is not False,
            legacy_named_credential=options.get("legacy_named_credential") is True,
        )
        for name, (root, files, options) in rendered.items()
    }


@pytest.fixture(params=["signed", "unsigned", "odd", "no-email-legacy"])
def package(request: pytest.FixtureRequest, packages: dict[str, Rendered]) -> Rendered:
    return packages[request.param]
