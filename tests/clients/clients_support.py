"""The emulator as users start it (``opencx-salesforce emulator``, a subprocess),
and what Salesforce's own clients need to reach it: an access token, the CA file
to trust under ``--tls``, the pinned Node clients in ``node/node_modules/.bin``."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).parent / "node"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"
COMMAND = Path(sys.executable).parent / "opencx-salesforce"
API_VERSION = "62.0"

_LISTENING = "Salesforce emulator listening on "
_CA = "TLS CA to trust:"


def node_bin(name: str) -> str:
    """A pinned client from ``node/``; installed by ``npm ci`` (``.ci/run`` does)."""
    path = NODE_BIN / name
    if not path.exists():
        raise AssertionError(
            f"{name} is not installed: run `npm ci --prefix {NODE_DIR}` (see .ci/run)"
        )
    return str(path)


@dataclass
class RunningEmulator:
    process: subprocess.Popen[str]
    base_url: str
    ca_file: str | None
    client_id: str
    client_secret: str
    org_id: str

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None

    def token(self) -> dict[str, Any]:
        """The client credentials flow, as an integration gets its token."""
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        ).encode()
        request = urllib.request.Request(f"{self.base_url}/services/oauth2/token", data=form)
        with urllib.request.urlopen(request, context=self.ssl_context()) as response:
            body: dict[str, Any] = json.load(response)
        return body

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """Arrange a test's records over the REST API (not through the client under test)."""
        token = self.token()["access_token"]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/services/data/v{API_VERSION}/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=self.ssl_context()) as response:
            text = response.read()
        return json.loads(text) if text else None

    def client_env(self, home: Path) -> dict[str, str]:
        """Environment for a Node client: its config under ``home``, no telemetry or
        update checks, the CA trusted under ``--tls``."""
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "SF_DISABLE_TELEMETRY": "true",
            # Both spellings: with the documented SF_AUTOUPDATE_DISABLE alone, each
            # command still left an orphaned `sf update --autoupdate` behind (the
            # update plugin's hook reads SF_DISABLE_AUTOUPDATE; sf's env.js accepts
            # either), still running after the tests.
            "SF_AUTOUPDATE_DISABLE": "true",
            "SF_DISABLE_AUTOUPDATE": "true",
            "SF_SKIP_NEW_VERSION_CHECK": "true",
            "SF_USE_GENERIC_UNIX_KEYCHAIN": "true",
            "SF_DISABLE_DNS_CHECK": "true",
            "SF_CONTAINER_MODE": "false",
            "NODE_NO_WARNINGS": "1",
            "LANG": "C.UTF-8",
        }
        if self.ca_file:
            env["NODE_EXTRA_CA_CERTS"] = self.ca_file
        return env

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_emulator(*extra: str) -> RunningEmulator:
    """``opencx-salesforce emulator --port 0 [extra]``; returns once it has printed
    how to reach it (read line by line, no sleeping)."""
    process = subprocess.Popen(
        [str(COMMAND), "emulator", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            break
    else:
        process.wait()
        raise AssertionError("the emulator stopped before serving:\n" + "\n".join(lines))
    fields = {}
    for line in lines:
        key, _, value = line.strip().partition(":")
        fields.setdefault(key.strip(), value.strip())
    base_url = next(line for line in lines if line.startswith(_LISTENING))[len(_LISTENING) :]
    ca_line = next((line for line in lines if line.strip().startswith(_CA)), None)
    return RunningEmulator(
        process=process,
        base_url=base_url,
        ca_file=ca_line.split(_CA, 1)[1].strip() if ca_line else None,
        client_id=fields["Client ID"],
        client_secret=fields["Client Secret"],
        org_id=fields["org"].rsplit("(", 1)[1].rstrip(")"),
    )


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> Any:
    """Run a client command that prints JSON; returns (exit code, parsed output)."""
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        output = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"{args[:3]} printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        ) from None
    return done.returncode, output


@dataclass
class SfCli:
    """The ``sf`` CLI with its config inside the test's tmp folder, logged in to one
    emulator org under the alias ``emu``."""

    emulator: RunningEmulator
    env: dict[str, str]
    home: Path

    def __call__(self, *args: str) -> tuple[int, Any]:
        return run([node_bin("sf"), *args, "--json"], self.env, self.home)

    def ok(self, *args: str) -> Any:
        code, output = self(*args)
        assert code == 0 and output["status"] == 0, output
        return output["result"]


def login_sf(emulator: RunningEmulator, home: Path) -> SfCli:
    """``sf org login access-token --no-prompt`` reads the token from SF_ACCESS_TOKEN.
    The instance URL ends in "/" as the CLI stores real ones, so every later
    request goes to "//services/data/..." (issue 21 finding 1)."""
    env = emulator.client_env(home)
    cli = SfCli(emulator, env, home)
    login_env = {**env, "SF_ACCESS_TOKEN": emulator.token()["access_token"]}
    code, output = run(
        [
            node_bin("sf"),
            "org",
            "login",
            "access-token",
            "--instance-url",
            emulator.base_url + "/",
            "--alias",
            "emu",
            "--set-default",
            "--no-prompt",
            "--json",
        ],
        login_env,
        home,
    )
    assert code == 0, output
    return cli
