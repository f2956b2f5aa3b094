"""A store that does not open is one clear line naming its URL (without the
password) and the cause, and the command exits 1: `serve` with Redis down
printed a 79-line traceback."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from opencx_salesforce.cli import main
from opencx_salesforce.errors import StoreUnavailable
from opencx_salesforce.store import open_store


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:{port}/0",
        "postgresql://opencx:hunter2@127.0.0.1:{port}/opencx",
        "sqlite:////nonexistent-folder/opencx.db",
    ],
)
async def test_a_store_that_does_not_open_names_its_url_and_cause(url: str) -> None:
    url = url.format(port=unused_port())
    with pytest.raises(StoreUnavailable) as refused:
        await open_store(url)
    message = str(refused.value)
    assert message.startswith("cannot open the store at ")
    assert "hunter2" not in message
    assert url.replace("hunter2", "***") in message
    assert message.split(": ", 2)[2]  # the cause


async def test_a_sqlite_file_in_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    # SQLite said only "unable to open database file".
    url = f"sqlite:///{tmp_path}/no-such-folder/opencx.db"
    with pytest.raises(StoreUnavailable) as refused:
        await open_store(url)
    assert f"the folder '{tmp_path}/no-such-folder' does not exist" in str(refused.value)
    assert not (tmp_path / "no-such-folder").exists()


def test_serve_with_the_store_down_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        '[host]\nadmin_token = "admin-token-of-a-store-down-test"\n'
        f'store_url = "redis://127.0.0.1:{unused_port()}/0"\nlisten_port = 0\n'
        "[salesforce]\ndev_mode = true\n"
    )
    assert main(["serve", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("opencx-salesforce: cannot open the store at redis://127.0.0.1:")
    assert "Traceback" not in err and len(err.splitlines()) == 1


async def test_a_sqlite_file_from_a_newer_release_is_refused_and_left_as_it_is(
    tmp_path: Path,
) -> None:
    """Opening it used to mark it version 1 again, hiding the newer release's
    tables from the next instance of that release too."""
    path = tmp_path / "opencx.db"
    store = await open_store(f"sqlite:///{path}")
    await store.set("ns", "kept", b"words")
    await store.close()
    with sqlite3.connect(path) as newer:
        newer.execute("PRAGMA user_version = 2")
    with pytest.raises(StoreUnavailable, match="schema version 2, newer than this release"):
        await open_store(f"sqlite:///{path}")
    with sqlite3.connect(path) as after:
        assert after.execute("PRAGMA user_version").fetchone()[0] == 2
    newer.close()
    after.close()
