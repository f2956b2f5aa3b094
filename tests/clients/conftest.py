"""Fixtures for driving the emulator with Salesforce's own clients: the emulator
started as users start it, over HTTPS (``--tls``) and plain HTTP, and the
official ``sf`` CLI logged in to it with an access token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clients_support import RunningEmulator, SfCli, login_sf, start_emulator


@pytest.fixture(scope="module")
def emulator_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    tls_dir = tmp_path_factory.mktemp("tls")
    running = start_emulator("--tls", "--tls-dir", str(tls_dir))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def emulator_http() -> Iterator[RunningEmulator]:
    running = start_emulator()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def sf(emulator_tls: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> SfCli:
    return login_sf(emulator_tls, tmp_path_factory.mktemp("sf-home"))
