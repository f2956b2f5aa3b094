"""``serve --log-format json``: every line of the log is one JSON object, with the
ids of the work it is about where known, and no secret at any level (issue #20)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import aiohttp
from foundation_support import ADMIN, ADMIN_TOKEN
from test_cli_serve import CONSOLE_SCRIPT, clean_env

from opencx_salesforce.logs import JsonFormatter, log_context


def test_a_record_carries_the_context_ids() -> None:
    record = logging.LogRecord(
        "opencx_salesforce.cases", logging.INFO, __file__, 1, "%s", ("x",), None
    )
    with log_context(session_id="s_1", job_id="handoff:s_1"), log_context(case_id="500A"):
        line = JsonFormatter().format(record)
    assert json.loads(line) | {"time": "-"} == {
        "time": "-",
        "level": "INFO",
        "logger": "opencx_salesforce.cases",
        "message": "x",
        "session_id": "s_1",
        "job_id": "handoff:s_1",
        "case_id": "500A",
    }
    assert "session_id" not in JsonFormatter().format(record)  # the context ended


async def test_serve_writes_json_lines_without_secrets(tmp_path: Path) -> None:
    config = tmp_path / "host.toml"
    config.write_text(
        f'[host]\nadmin_token = "{ADMIN_TOKEN}"\nstore_url = "sqlite:///{tmp_path}/s.db"\n'
        "[salesforce]\ndev_mode = true\n"
    )
    process = await asyncio.create_subprocess_exec(
        str(CONSOLE_SCRIPT),
        *("serve", "--config", str(config), "--port", "0"),
        *("--log-format", "json", "--log-level", "debug"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        base_url = first.split()[-1]
        async with aiohttp.ClientSession() as http:
            await http.post(f"{base_url}/admin/login", data={"token": ADMIN_TOKEN})
            async with http.post(f"{base_url}/api/sessions", json={}, headers=ADMIN) as response:
                assert response.status == 201
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert lines, "serve logged nothing at DEBUG"
    for line in lines:
        entry = json.loads(line)  # every line parses
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    assert ADMIN_TOKEN not in err.decode()
