"""Trouble on the Messaging side, per org: the stream cut, events sent twice,
routing failing, slow or finding no rep, a network between the end user's client
and the SCRT host. All off by default; set from tests directly or through
``POST /_emulator/orgs/{orgId}/messaging/faults``."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

# RoutingResult failureType values other than "None" [src: sample constants.js]
ROUTING_FAILURE_TYPES = ("Unknown", "SubmissionError", "RoutingError")


@dataclass
class MessagingFaults:
    # Cut each stream connection after this many events (0: never) ...
    sse_drop_after: int = 0
    # ... for this many more connections (None: every connection).
    sse_drops: int | None = None
    # Probability that an event is written twice, with the same id.
    duplicate_rate: float = 0.0
    # The next routings fail with this failureType (None: routing works).
    routing_failure: str | None = None
    # Seconds Omni-Channel takes before the routing result.
    routing_delay: float = 0.0
    # No rep is online: work waits in the queue and nobody is offered it.
    no_agent: bool = False
    # Whether a reconnect with Last-Event-Id replays what the client missed. The
    # platform's replay is UNCONFIRMED (MIAW.md §4); off lets a client prove its
    # list-entries backfill.
    replay_on_resume: bool = True
    # Round-trip time (ms) between the end user's client and the SCRT host: a
    # REST call waits half of it on the way in and half on the way out; an SSE
    # event reaches the client half of it after it happened (latency.py).
    latency_ms: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._random = random.Random(seed)

    def duplicate(self) -> bool:
        return self.duplicate_rate > 0 and self._random.random() < self.duplicate_rate

    def take_drop(self) -> int:
        """Events this connection may carry before it is cut (0: no limit)."""
        if self.sse_drop_after <= 0 or self.sse_drops == 0:
            return 0
        if self.sse_drops is not None:
            self.sse_drops -= 1
        return self.sse_drop_after

    def one_way_seconds(self) -> float:
        return max(0.0, self.latency_ms) / 2000.0

    def reset(self) -> None:
        self.sse_drop_after = 0
        self.sse_drops = None
        self.duplicate_rate = self.routing_delay = self.latency_ms = 0.0
        self.routing_failure = None
        self.no_agent = False
        self.replay_on_resume = True
        self.reseed(self.seed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sse_drop_after": self.sse_drop_after,
            "sse_drops": self.sse_drops,
            "duplicate_rate": self.duplicate_rate,
            "routing_failure": self.routing_failure,
            "routing_delay": self.routing_delay,
            "no_agent": self.no_agent,
            "replay_on_resume": self.replay_on_resume,
            "latency_ms": self.latency_ms,
            "seed": self.seed,
        }

    def apply(self, knobs: dict[str, Any]) -> None:
        """Set knobs from a JSON object; ValueError names the bad one."""
        for name, value in knobs.items():
            if name == "reset":
                continue
            if name in ("sse_drop_after", "seed"):
                _check(name, isinstance(value, int) and not isinstance(value, bool) and value >= 0)
            elif name == "sse_drops":
                _check(name, value is None or (isinstance(value, int) and value >= 0))
            elif name == "duplicate_rate":
                _check(name, _number(value) and 0 <= value <= 1)
            elif name in ("routing_delay", "latency_ms"):
                _check(name, _number(value) and value >= 0)
            elif name == "routing_failure":
                _check(name, value is None or value in ROUTING_FAILURE_TYPES)
            elif name in ("no_agent", "replay_on_resume"):
                _check(name, isinstance(value, bool))
            else:
                raise ValueError(f"{name}: unknown knob; known: {', '.join(self.as_dict())}")
            if name == "seed":
                self.reseed(value)
            else:
                setattr(self, name, value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(name: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{name}: bad value")
