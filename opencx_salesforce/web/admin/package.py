"""The Salesforce package of this install as one zip, for the download button.

:func:`opencx_salesforce.apex.render.render_package` writes a Salesforce DX
project into a folder; this puts that folder into a zip in memory (it is a few
dozen small files) under one top folder, so unzipping never scatters files.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from opencx_salesforce.apex.render import render_package
from opencx_salesforce.settings import SalesforceSettings

TOP_FOLDER = "opencx-salesforce-package"
FILE_NAME = f"{TOP_FOLDER}.zip"


def package_zip(
    settings: SalesforceSettings, *, webhook_url: str, signing_secret: str | None
) -> bytes:
    """The zipped project for ``webhook_url``, the install's ``signing_secret``
    (None: unsigned, the settings opted out) and its settings (API version, Case
    field names). Blocking: run it in a thread."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="opencx-package-") as folder:
        root = Path(folder)
        files = render_package(
            root,
            webhook_url=webhook_url,
            signing_secret=signing_secret,
            api_version=settings.api_version,
            case_from_value=settings.case_from_value,
            session_id_field=settings.session_id_field,
            include_messaging=settings.live.configured,
        )
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(files):
                archive.write(path, f"{TOP_FOLDER}/{path.relative_to(root).as_posix()}")
    return buffer.getvalue()
