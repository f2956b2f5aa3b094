"""The official Salesforce CLI (``@salesforce/cli``, pinned in node/package.json)
against the emulator started with ``opencx-salesforce emulator --tls``: the
commands a developer uses to look at their test org, one test each."""

from __future__ import annotations

import subprocess
from pathlib import Path

from clients_support import RunningEmulator, SfCli, login_sf, node_bin, run


def test_org_display(sf: SfCli) -> None:
    result = sf.ok("org", "display", "--target-org", "emu")
    assert result["id"] == sf.emulator.org_id
    assert result["connectedStatus"] == "Connected"
    assert result["instanceUrl"].startswith("https://127.0.0.1:")
    assert result["apiVersion"] == "68.0"


def test_query_with_a_parent_field(sf: SfCli) -> None:
    sf.emulator.rest("POST", "sobjects/Case", {"Subject": "seen by sf data query"})
    result = sf.ok(
        "data",
        "query",
        "--target-org",
        "emu",
        "--query",
        "SELECT Id, Subject, Owner.Name FROM Case WHERE Subject = 'seen by sf data query'",
    )
    assert result["totalSize"] == 1
    record = result["records"][0]
    assert record["Subject"] == "seen by sf data query"
    assert record["Owner"]["Name"]


def test_query_as_a_table(sf: SfCli) -> None:
    """Human output lays out columns from ``?columns=true`` (issue 21 finding 2)."""
    sf.emulator.rest("POST", "sobjects/Case", {"Subject": "in a table"})
    done = subprocess.run(
        [
            node_bin("sf"),
            "data",
            "query",
            "--target-org",
            "emu",
            "--query",
            "SELECT Id, Subject, Owner.Name FROM Case WHERE Subject = 'in a table'",
        ],
        env=sf.env,
        cwd=sf.home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OWNER.NAME" in done.stdout
    assert "in a table" in done.stdout
    assert "Total number of records retrieved: 1." in done.stdout


def test_create_record(sf: SfCli) -> None:
    result = sf.ok(
        "data",
        "create",
        "record",
        "--target-org",
        "emu",
        "--sobject",
        "Case",
        "--values",
        "Subject='made by sf'",
    )
    assert result["success"] is True
    stored = sf.emulator.rest("GET", f"sobjects/Case/{result['id']}")
    assert stored["Subject"] == "made by sf"


def test_get_record(sf: SfCli) -> None:
    case_id = sf.emulator.rest("POST", "sobjects/Case", {"Subject": "read by sf"})["id"]
    result = sf.ok(
        "data", "get", "record", "--target-org", "emu", "--sobject", "Case", "--record-id", case_id
    )
    assert result["Id"] == case_id
    assert result["Subject"] == "read by sf"


def test_update_record(sf: SfCli) -> None:
    case_id = sf.emulator.rest("POST", "sobjects/Case", {"Subject": "before"})["id"]
    sf.ok(
        "data",
        "update",
        "record",
        "--target-org",
        "emu",
        "--sobject",
        "Case",
        "--record-id",
        case_id,
        "--values",
        "Subject=after",
    )
    assert sf.emulator.rest("GET", f"sobjects/Case/{case_id}")["Subject"] == "after"


def test_delete_record(sf: SfCli) -> None:
    case_id = sf.emulator.rest("POST", "sobjects/Case", {"Subject": "doomed"})["id"]
    sf.ok(
        "data",
        "delete",
        "record",
        "--target-org",
        "emu",
        "--sobject",
        "Case",
        "--record-id",
        case_id,
    )
    query = f"query?q=SELECT+Id+FROM+Case+WHERE+Id='{case_id}'"
    assert sf.emulator.rest("GET", query)["totalSize"] == 0


def test_describe(sf: SfCli) -> None:
    result = sf.ok("sobject", "describe", "--target-org", "emu", "--sobject", "Case")
    assert result["name"] == "Case"
    names = {field["name"] for field in result["fields"]}
    assert {"Subject", "Status", "OwnerId"} <= names


def test_list_limits(sf: SfCli) -> None:
    result = sf.ok("org", "list", "limits", "--target-org", "emu")
    by_name = {limit["name"]: limit for limit in result}
    assert by_name["DailyApiRequests"]["max"] > 0


def test_tooling_query(sf: SfCli) -> None:
    result = sf.ok(
        "data",
        "query",
        "--target-org",
        "emu",
        "--use-tooling-api",
        "--query",
        "SELECT Id, Name FROM ApexClass",
    )
    assert result["done"] is True
    assert isinstance(result["records"], list)


def test_sosl_search_is_reported_as_not_supported(sf: SfCli) -> None:
    code, output = sf(
        "data", "search", "--target-org", "emu", "--query", "FIND {x} RETURNING Case(Id)"
    )
    assert code == 1
    assert output["name"] == "FUNCTIONALITY_NOT_ENABLED"
    assert "SOSL search" in output["message"]


def test_bulk_export_is_reported_as_not_supported(sf: SfCli) -> None:
    code, output = sf(
        "data",
        "export",
        "bulk",
        "--target-org",
        "emu",
        "--query",
        "SELECT Id FROM Case",
        "--output-file",
        str(sf.home / "cases.csv"),
        "--wait",
        "1",
    )
    assert code == 1
    assert output["name"] == "FeatureNotEnabled"
    assert "Bulk API 2.0 isn't enabled" in output["message"]


def test_plain_http_emulator_logs_in_and_queries(
    emulator_http: RunningEmulator, tmp_path: Path
) -> None:
    """Without --tls too (the CLI warns about http, and works)."""
    home = tmp_path / "sf-home"
    cli = login_sf(emulator_http, home)
    assert cli.ok("org", "display", "--target-org", "emu")["instanceUrl"].startswith(
        "http://127.0.0.1:"
    )
    code, output = run(
        [
            node_bin("sf"),
            "data",
            "query",
            "--target-org",
            "emu",
            "--query",
            "SELECT Id FROM Case",
            "--json",
        ],
        cli.env,
        home,
    )
    assert code == 0, output
    assert output["result"]["done"] is True


def _updaters_under(home: Path) -> list[int]:
    """Processes running `sf update` with ``home`` as their HOME (Linux /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        if b"update" in args and f"HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_commands_leave_no_updater_running(sf: SfCli) -> None:
    """The CLI starts `sf update --autoupdate` in the background unless told not
    to; the tests' environment tells it, so no such process outlives a command."""
    sf.ok("org", "display", "--target-org", "emu")
    sf.ok("data", "query", "--target-org", "emu", "--query", "SELECT Id FROM Case")
    assert _updaters_under(sf.home) == []
