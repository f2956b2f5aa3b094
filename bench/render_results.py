"""bench/RESULTS.md from one run's results: every figure next to the baselines'
and as a ratio, with the physical floor beside it."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from handoff_workload import CellResult, comment_body, conversation
from render_goals import DURABLE, goals_section

if TYPE_CHECKING:
    from bench_appends import AppendResult
    from bench_replies import ReplyResult
    from profile_handoff import HotSpot, ProfileResult
    from run_all import Run

# The plugin on each store ("plugin" is its default store, SQLite), then the
# hand-written baselines: competent (the Case, then every comment in one sObject
# Collections call) and naive (a call per record).
PLUGINS = ("plugin", "plugin+redis", "plugin+postgres", "plugin+memory")
COMPETENT = ("aiohttp+collections", "simple-salesforce+collections")
BASELINES = (*COMPETENT, "aiohttp", "simple-salesforce")
CONTENDERS = (*PLUGINS, *BASELINES)
# Measured again at the goals' cell with CPython's default collector.
COLLECTOR_CONTENDERS = (*COMPETENT, *(plugin for plugin, _ in DURABLE))
# Daily API request allocations to express calls in: a Developer Edition org's
# [src: SALESFORCE.md, /limits sample "DailyApiRequests":{"Max":15000}] and the
# base of a production org's allocation [src: salesforce_app_limits_cheatsheet
# "API Request Limits and Allocations": 100,000 plus an amount per user licence].
QUOTAS = ((15_000, "15,000 (Developer Edition)"), (100_000, "100,000 (production base)"))
OUTBOX_DEFAULT_WORKERS = 256

Key = tuple[float, int, int]  # latency, messages, concurrency


def _f(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _span(values: Collection[float], digits: int, suffix: str = "") -> str:
    """``low–high``, or one value where both read the same at ``digits``."""
    low, high = _f(min(values), digits), _f(max(values), digits)
    return f"{low}{suffix}" if low == high else f"{low}–{high}{suffix}"


def _ratio(numerator: float, denominator: float) -> str:
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return "—"
    ratio = numerator / denominator
    return f"{ratio:,.1f}×" if ratio < 100 else f"{ratio:,.0f}×"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class Cells:
    """The handoff measurements, by contender and condition."""

    def __init__(self, cells: Sequence[CellResult]) -> None:
        self.by: dict[tuple[str, Key], CellResult] = {}
        for cell in cells:
            spec = cell.spec
            key = (spec.latency_ms, spec.messages, spec.concurrency)
            self.by[(spec.contender, key)] = cell
        self.keys: list[Key] = sorted({key for _, key in self.by})

    def get(self, contender: str, key: Key) -> CellResult | None:
        return self.by.get((contender, key))

    def value(self, contender: str, key: Key, what: Callable[[CellResult], float]) -> float:
        cell = self.get(contender, key)
        return what(cell) if cell is not None and cell.handoffs else float("nan")

    def latencies(self) -> list[float]:
        return sorted({k[0] for k in self.keys})

    def messages(self) -> list[int]:
        return sorted({k[1] for k in self.keys})

    def concurrencies(self) -> list[int]:
        return sorted({k[2] for k in self.keys})


# --- sections ------------------------------------------------------------------------------


def header(run: Run, results_file: str) -> str:
    m = run.machine
    probes = "; ".join(
        f"{p.at}: load {p.load_average}, one busy loop got {p.alone:.2f} of a core, "
        f"two at once {p.two_at_once:.2f} each"
        for p in run.cpu_probes
    )
    packages = ", ".join(f"{name} {v}" for name, v in m.packages.items())
    failures = ""
    if run.failures:
        failures = "\n**Failed measurements** (left out of the tables):\n\n" + "\n".join(
            f"- {f}" for f in run.failures
        )
    return f"""# Benchmarks: opencx-salesforce against hand-written integrations

Reproduce (from the repository root, after
`bash .ci/bootstrap --extra test --extra redis`, which installs uv.lock):

```
{run.command}
```

`--quick` runs a smaller plan into `bench/out/`; `--render bench/results.json`
rewrites this file from the recorded numbers. Every number below comes from the
one run recorded in `{results_file}` ({run.plan} plan, {run.seconds / 60:.1f} minutes).

| | |
|---|---|
| date | {m.date} |
| machine | `{m.uname}` |
| CPU | {m.cpu_model}, {m.nproc} CPUs (nproc) |
| memory | {m.memory} |
| Python | {m.python} |
| packages | {packages} |
| commit | {m.commit} |
| CPU really available | {probes} |
{failures}{_quick_note(run)}
"""


def _quick_note(run: Run) -> str:
    if run.plan != "quick":
        return ""
    quiet = bool(run.cpu_probes) and all(
        p.alone >= 0.95 and p.two_at_once >= 0.95 for p in run.cpu_probes
    )
    machine = (
        "the busy-loop probe above got whole cores at its start and its end (no other "
        "work competed then), yet figures at 0 ms are CPU-bound and move between runs"
        if quiet
        else "the machine was shared with other work while it ran (see the load and "
        "the busy-loop probe above), so figures at 0 ms are CPU-bound and noisy"
    )
    return (
        "\n**The quick plan.** This run is `--quick` (2 s a measurement, 5 and 20 "
        f"messages, 1 and 100 concurrent): {machine}; calls per handoff and ratios "
        "between contenders of one condition (run back to back) are what to read.\n"
    )


def method(run: Run) -> str:
    sample = conversation(0, 20)
    sizes = [len(comment_body(message).encode()) for message in sample.messages]
    ssf_version = run.machine.packages.get("simple-salesforce")
    return f"""## How it is measured

- **Salesforce** is the project's emulator, in a process of its own on loopback
  (`bench/emulator_process.py`), so its CPU is not charged to the client and a
  client's RSS does not include it. Each measurement gets a fresh org; the
  **injected round trip** is the emulator's own fault knob (`latency_ms`: every
  API request of the org waits that long before it is served), set through its
  admin API, the same for every contender. API calls are the emulator's count
  (`/_emulator/orgs/{{id}}/stats`, by endpoint), the same count the org's daily
  limit is charged with.
- **Contenders**, each measurement in a process of its own (`bench/cell_process.py`):
  - **plugin**: the reference host with opencx-salesforce on a fresh store:
    `plugin` is its default, SQLite; `plugin+redis`, `plugin+postgres` and
    `plugin+memory` the others. Connected by the client-credentials flow; the host
    calls `on_handoff`, the outbox ({OUTBOX_DEFAULT_WORKERS} workers, its default)
    sends a lone handoff as one composite request (Case upsert on the session's
    external id, the transcript packed into CaseComments through sObject
    Collections referencing `@{{refCase.id}}`, the Contact lookup), and the
    handoffs that are ready while one is in flight together as graphs of one
    composite graph request (their Contacts found in one query alongside, a late
    match linked by a later graph). Timed from
    the host's `handoff` call until the session carries `salesforce_case_id` (the
    host's own write, observed without polling).
  - **aiohttp+collections** and **simple-salesforce+collections**: the competent
    hand-written integration: the Case, then every comment in one sObject
    Collections call (two calls a handoff), async on aiohttp or with a thread pool
    on simple-salesforce.
  - **simple-salesforce**, naive (`simple-salesforce` {ssf_version}, on
    `requests`): what a team writes by hand: `sf.Case.create`, then one
    `sf.CaseComment.create` per message, then keep the Id; a thread pool runs the
    conversations. It builds `https://` URLs only, so its documented `session=`
    argument gets a `requests.Session` whose adapter sends them as plain http
    to the loopback emulator (no TLS anywhere, for any contender).
  - **aiohttp**, naive: the same per-record calls, hand-written async: the Case, then
    every comment at once with `asyncio.gather` (aiohttp's default 100-connection
    pool, as the plugin has).
  Every contender gets the same conversations (contact and bot in turn, lines of
  {min(sizes)}–{max(sizes)} bytes as a comment), a new contact each, and one
  untimed warm-up handoff.
- **A measurement** is a closed loop: *concurrent* clients each hand off a
  conversation and wait for it, then take the next, until the time budget is
  spent (at least one handoff per client; *n* is how many were timed, and where
  it is small, p95 and p99 are simply the slowest; an *n* equal to the prepared
  conversations means they ran out before the budget did). *handoffs/s* is
  completed handoffs over the loop's wall time.
- **Python's collector**: every contender's process, once set up and before its
  loop, collects, freezes what is alive and sets the collector's first threshold
  to 50,000, as the reference host's `serve` does once started
  (`opencx_salesforce/devhost/collector.py`); "Python's garbage collector" below
  measures the goals' cell with CPython's defaults too.
- **Peak RSS** is the contender process's `resource.getrusage(RUSAGE_SELF).ru_maxrss`
  (psutil is not installed), taken after the loop; in parentheses, the same
  right before the loop (libraries loaded, conversations prepared). The plugin's
  process also runs the reference host (web server, store).
- **CPU per handoff**: the contender process's CPU time over the loop
  (`time.process_time`), and the emulator process's (the server work the way of
  calling costs Salesforce), divided by the handoffs.
- **The floor**: one round trip per handoff is the least any integration can
  wait; at 50 ms the plugin's latency is also shown as a multiple of it. At one
  round trip per handoff, *c* conversations can complete at most *c*/RTT per
  second; the competent baselines need two round trips, so *c*/(2 RTT).
- **The machine is shared** (see "CPU really available" above): at 0 ms, where
  CPU is all there is to wait for, figures move between runs; the ratios, taken
  minutes apart within one run, and the CPU per handoff move less.
"""


def summary_section(run: Run, cells: Cells) -> str:
    """The findings, computed from this run's cells (a bullet is left out when its
    cells were not measured, as in the quick plan)."""
    bullets: list[str] = []
    sizes = cells.messages()
    calls = {
        (c, m): cells.value(c, key, lambda r: r.calls_per_handoff)
        for c in CONTENDERS
        for m in sizes
        for key in cells.keys
        if key[1] == m
    }
    if sizes and all(not math.isnan(calls.get(("plugin", m), math.nan)) for m in sizes):
        plugin = {calls[("plugin", m)] for m in sizes}
        per_record = [calls.get(("simple-salesforce", m), math.nan) for m in sizes]
        bullets.append(
            f"**API calls**: {_span(plugin, 2)} per handoff "
            f"({sizes[0]} to {sizes[-1]} messages: 1 alone, less under load); the hand-written "
            f"integrations make one per record: {_f(per_record[0], 0)} to "
            f"{_f(per_record[-1], 0)}. A Developer Edition's 15,000 calls a day pay for "
            f"{15000 / max(plugin):,.0f} plugin handoffs, or {15000 / per_record[-1]:,.0f} "
            f"per-record handoffs of {sizes[-1]} messages."
        )
    slow = max(cells.latencies(), default=0.0)
    if slow:
        alone = [k for k in cells.keys if k[0] == slow and k[2] == 1]
        if alone:
            multiples = {
                c: [cells.value(c, k, lambda r: r.p(0.5)) / slow for k in alone] for c in CONTENDERS
            }
            span = {c: _span(v, 1, "×") for c, v in multiples.items()}
            bullets.append(
                f"**Latency, one conversation at a time, {slow:.0f} ms round trip**: the "
                f"plugin's p50 is {span['plugin']} the round trip (the floor is 1×) from "
                f"{alone[0][1]} to {alone[-1][1]} messages; aiohttp's {span['aiohttp']} "
                f"(the Case, then the comments at once: two round trips and the server's "
                f"work); simple-salesforce's {span['simple-salesforce']} (a round trip per "
                f"record)."
            )
        crowd = [k for k in cells.keys if k[0] == slow and k[2] == max(cells.concurrencies())]
        if crowd and max(cells.concurrencies()) > 1:
            parts = []
            for k in crowd:
                rates = {p: cells.value(p, k, lambda r: r.per_second) for p in PLUGINS}
                best = cells.value("aiohttp+collections", k, lambda r: r.per_second)
                plugin_calls = cells.value("plugin", k, lambda r: r.calls_per_handoff)
                parts.append(
                    f"{k[1]} messages: "
                    + ", ".join(f"{p} {_f(v, 0)}/s" for p, v in rates.items())
                    + f" against aiohttp+collections {_f(best, 0)}/s "
                    f"({_ratio(rates['plugin'], best)}), {_f(plugin_calls, 3)} calls per handoff"
                )
            bullets.append(
                f"**Throughput, {crowd[0][2]} conversations at {slow:.0f} ms**: "
                + "; ".join(parts)
                + ". Handoffs ready while a request is in flight share the next one "
                "(composite graph)."
            )
    if sizes:
        big = [k for k in cells.keys if k[1] == sizes[-1]]
        server = {
            c: [cells.value(c, k, lambda r: r.server_cpu_ms_per_handoff) for k in big]
            for c in CONTENDERS
        }
        if big and all(server.values()):
            mean = {c: sum(v) / len(v) for c, v in server.items()}
            bullets.append(
                f"**Server work** for a {sizes[-1]}-message handoff: the emulator spends "
                f"{_f(mean['plugin'])} ms of CPU on the plugin's, "
                f"{_f(mean['aiohttp'])} ms on aiohttp's and "
                f"{_f(mean['simple-salesforce'])} ms on simple-salesforce's: "
                f"{_ratio(mean['aiohttp'], mean['plugin'])} and "
                f"{_ratio(mean['simple-salesforce'], mean['plugin'])} the plugin's, for the "
                f"same transcript."
            )
    if run.replies:
        reply = run.replies[-1]
        bullets.append(
            f"**Replies**: a rep's comment reaches the session in {_f(reply.p(0.5), 0)} ms "
            f"(p50) at {reply.latency_ms:.0f} ms round trip, {reply.debounce_seconds * 1000:.0f} "
            f"ms of it the notify debounce, with {_f(reply.calls_per_reply, 0)} API call per "
            f"reply; {reply.burst_size} replies written together cost "
            f"{reply.burst_api_calls}. At the default settings the sweep spends "
            f"{_f(reply.day('no_open_case_calls_per_day'), 0)} calls a day with no open Case "
            f"and {_f(reply.day('quiet_open_cases_calls_per_day'), 0)} with quiet open Cases."
        )
    if run.profile is not None:
        cell = CellResult.from_json(run.profile.cell)
        top = run.profile.plugin_by_own_time[:3]
        bullets.append(
            f"**CPU**: about {1000 * run.profile.cpu_seconds / max(cell.handoffs, 1):.1f} ms "
            f"per handoff of {cell.spec.messages} messages in the host process (under the "
            f"profiler); the heaviest project functions: "
            + ", ".join(f"`{h.function}` ({h.share:.0%})" for h in top)
            + ". See Profile."
        )
    if not bullets:
        return ""
    return "## Summary\n\n" + "\n".join(f"- {b}" for b in bullets) + "\n"


def calls_section(cells: Cells) -> str:
    rows = []
    for messages in cells.messages():
        per = {}
        for contender in CONTENDERS:
            values = [
                c.calls_per_handoff
                for key in cells.keys
                if key[1] == messages and (c := cells.get(contender, key)) and c.handoffs
            ]
            per[contender] = (min(values), max(values)) if values else (math.nan, math.nan)

        def shown(low_high: tuple[float, float]) -> str:
            low, high = low_high
            return _f(low, 2) if low == high or math.isnan(low) else f"{low:.2f}–{high:.2f}"

        plugin = per["plugin"][1]
        row = [str(messages), *(shown(per[c]) for c in CONTENDERS)]
        row += [_ratio(per[b][1], plugin) for b in BASELINES]
        for quota, _ in QUOTAS:
            row.append(
                " / ".join(
                    _f(quota / per[c][1], 0) if per[c][1] else "—"
                    for c in ("plugin", "simple-salesforce")
                )
            )
        rows.append(row)
    header = [
        "messages",
        *CONTENDERS,
        *(f"{b} ÷ plugin" for b in BASELINES),
        *(f"handoffs a day on {label}: plugin / per-record" for _, label in QUOTAS),
    ]
    return (
        "## API calls per handoff\n\nA range where cells differed: the plugin's fall "
        "below one under load, when handoffs share a composite graph request. The last "
        "columns are how many handoffs a day's allocation pays for, if handoffs were "
        "all it spent.\n\n" + _table(header, rows) + "\n"
    )


def latency_section(cells: Cells) -> str:
    out = ["## Handoff to Case latency (ms)\n"]
    out.append(
        "p50 / p95 / p99 and *n* timed handoffs. Plugin: host `handoff` call → "
        "`salesforce_case_id` on the session. Baselines: first call → last comment "
        "written and the Id stored. Under load a plugin handoff waits for the request "
        "in flight and goes in the next batch: about two round trips (its Contact "
        "lookup overlaps them).\n"
    )
    for latency in cells.latencies():
        floor = (
            f"floor: one round trip = {latency:.0f} ms"
            if latency
            else "floor: one round trip (≈ 0 plus the server's work)"
        )
        out.append(f"### Injected round trip {latency:.0f} ms ({floor})\n")
        rows = []
        for key in [k for k in cells.keys if k[0] == latency]:
            row = [str(key[1]), str(key[2])]
            for contender in CONTENDERS:
                cell = cells.get(contender, key)
                if cell is None or not cell.handoffs:
                    row.append("—")
                    continue
                row.append(
                    f"{_f(cell.p(0.5))} / {_f(cell.p(0.95))} / {_f(cell.p(0.99))} "
                    f"(n={cell.handoffs})"
                )
            p50 = cells.value("plugin", key, lambda c: c.p(0.5))
            for baseline in BASELINES:
                row.append(_ratio(cells.value(baseline, key, lambda c: c.p(0.5)), p50))
            row.append(f"{p50 / latency:.2f}×" if latency and not math.isnan(p50) else "—")
            rows.append(row)
        header = [
            "messages",
            "concurrent",
            *CONTENDERS,
            *(f"{b} p50 ÷ plugin" for b in BASELINES),
            "plugin p50 ÷ RTT",
        ]
        out.append(_table(header, rows) + "\n")
    return "\n".join(out)


def throughput_section(cells: Cells) -> str:
    rows = []
    for key in cells.keys:
        latency, messages, concurrency = key
        rates = {c: cells.value(c, key, lambda r: r.per_second) for c in CONTENDERS}
        plugin_calls = cells.value("plugin", key, lambda r: r.calls_per_handoff)
        rows.append(
            [
                f"{latency:.0f} ms",
                str(messages),
                str(concurrency),
                *(_f(rates[c]) for c in CONTENDERS),
                *(_ratio(rates["plugin"], rates[b]) for b in BASELINES),
                _f(plugin_calls, 2),
            ]
        )
    header = [
        "RTT",
        "messages",
        "concurrent",
        *CONTENDERS,
        *(f"plugin ÷ {b}" for b in BASELINES),
        "plugin API calls/handoff",
    ]
    return (
        "## Sustained handoffs per second\n\n"
        "Completed handoffs over the loop's wall time. At 0 ms the emulator (one "
        "Python process) is part of what is measured: a per-record client makes it "
        "do one request per message.\n\n" + _table(header, rows) + "\n"
    )


def cpu_section(cells: Cells) -> str:
    rows = []
    for key in cells.keys:
        latency, messages, concurrency = key
        client = {c: cells.value(c, key, lambda r: r.client_cpu_ms_per_handoff) for c in CONTENDERS}
        server = {c: cells.value(c, key, lambda r: r.server_cpu_ms_per_handoff) for c in CONTENDERS}
        rows.append(
            [
                f"{latency:.0f} ms",
                str(messages),
                str(concurrency),
                *(_f(client[c], 2) for c in CONTENDERS),
                *(_f(server[c], 2) for c in CONTENDERS),
                *(_ratio(server[b], server["plugin"]) for b in BASELINES),
            ]
        )
    header = [
        "RTT",
        "messages",
        "concurrent",
        *(f"client: {c}" for c in CONTENDERS),
        *(f"server: {c}" for c in CONTENDERS),
        *(f"server: {b} ÷ plugin" for b in BASELINES),
    ]
    return (
        "## CPU per handoff (ms)\n\n"
        "*client*: the contender's process (the plugin's includes the reference host "
        "and its store); *server*: the emulator's process, serving that contender.\n\n"
        + _table(header, rows)
        + "\n"
    )


def rss_section(cells: Cells) -> str:
    rows = []
    for messages in cells.messages():
        for concurrency in cells.concurrencies():
            row = [str(messages), str(concurrency)]
            for contender in CONTENDERS:
                found = [
                    c
                    for k in cells.keys
                    if k[1:] == (messages, concurrency) and (c := cells.get(contender, k))
                ]
                if not found:
                    row.append("—")
                    continue
                worst = max(found, key=lambda c: c.peak_rss_mb)
                row.append(f"{worst.peak_rss_mb:.0f} ({worst.setup_rss_mb:.0f})")
            peaks = {
                c: max(
                    (
                        cell.peak_rss_mb
                        for k in cells.keys
                        if k[1:] == (messages, concurrency) and (cell := cells.get(c, k))
                    ),
                    default=math.nan,
                )
                for c in CONTENDERS
            }
            row += [_ratio(peaks["plugin"], peaks[b]) for b in BASELINES]
            rows.append(row)
    header = [
        "messages",
        "concurrent",
        *CONTENDERS,
        *(f"plugin ÷ {b}" for b in BASELINES),
    ]
    return (
        "## Peak RSS (MB)\n\n"
        "The larger of the two latencies; in parentheses, the peak before the loop "
        "started (libraries and the prepared conversations). The plugin's process also "
        "holds the reference host.\n\n" + _table(header, rows) + "\n"
    )


def outbox_section(outbox: Sequence[CellResult]) -> str:
    if not outbox:
        return ""
    rows = []
    for cell in sorted(outbox, key=lambda c: (c.spec.latency_ms, c.spec.outbox_workers or 0)):
        spec = cell.spec
        workers = spec.outbox_workers or OUTBOX_DEFAULT_WORKERS
        default = " (default)" if workers == OUTBOX_DEFAULT_WORKERS else ""
        rows.append(
            [
                f"{spec.latency_ms:.0f} ms",
                f"{workers}{default}",
                _f(cell.per_second),
                f"{_f(cell.p(0.5))} / {_f(cell.p(0.99))}",
                _f(cell.calls_per_handoff, 2),
                _f(cell.client_cpu_ms_per_handoff, 2),
                f"{cell.peak_rss_mb:.0f}",
                str(cell.handoffs),
            ]
        )
    first = outbox[0].spec
    header = [
        "RTT",
        "outbox workers",
        "handoffs/s",
        "p50 / p99 ms",
        "API calls/handoff",
        "client CPU ms/handoff",
        "peak RSS MB",
        "n",
    ]
    return (
        f"## What the outbox's concurrency costs and gains\n\n"
        f"`outbox_concurrency` (default {OUTBOX_DEFAULT_WORKERS}; the benchmark sets it "
        f"on the running outbox), the plugin on {first.contender}: {first.concurrency} "
        f"concurrent conversations of {first.messages} messages. A worker holds one job; "
        f"handoffs that are ready while a request is in flight share the next one, so "
        f"workers bound the batch size, not the requests in flight.\n\n"
        + _table(header, rows)
        + "\n"
    )


def collector_section(defaults: Sequence[CellResult], cells: Cells) -> str:
    """The goals' cell measured twice: every process as the reference host's
    ``serve`` settles it (the tables above), and left with CPython's defaults."""
    if not defaults:
        return ""
    spec = defaults[0].spec
    key = (spec.latency_ms, spec.messages, spec.concurrency)
    default_base = next((c for c in defaults if c.spec.contender == COMPETENT[0]), None)
    settled_base = cells.get(COMPETENT[0], key)

    def rate(cell: CellResult, base: CellResult | None) -> str:
        if base is None or not base.per_second:
            return _f(cell.per_second)
        return f"{_f(cell.per_second)} ({cell.per_second / base.per_second:.2f}×)"

    rows = []
    for default in defaults:
        settled = cells.get(default.spec.contender, key)
        if settled is None:
            continue
        rows.append(
            [
                default.spec.contender,
                rate(settled, settled_base),
                rate(default, default_base),
                _f(settled.client_cpu_ms_per_handoff, 2),
                _f(default.client_cpu_ms_per_handoff, 2),
            ]
        )
    header = [
        "contender",
        "handoffs/s, settled (× competent aiohttp)",
        "with CPython's defaults (×)",
        "CPU ms/handoff, settled",
        "with defaults",
    ]
    return (
        "## Python's garbage collector\n\n"
        "Every contender's process, once set up, settles CPython's cyclic collector as "
        "the reference host's `serve` does (`opencx_salesforce/devhost/collector.py`: "
        "collect, `gc.freeze`, first threshold 50,000; docs/operations.md): the tables "
        f"above. Here the goals' cell ({spec.latency_ms:.0f} ms, {spec.messages} "
        f"messages, {spec.concurrency} concurrent) again, each process left with "
        "CPython's defaults (first threshold 700), measured after the tables' cells.\n\n"
        + _table(header, rows)
        + "\n"
    )


def replies_section(replies: Sequence[ReplyResult]) -> str:
    if not replies:
        return ""
    rows = []
    for r in replies:
        p50 = r.p(0.5)
        floor = r.debounce_seconds * 1000 + r.latency_ms
        rows.append(
            [
                f"{r.latency_ms:.0f} ms",
                str(r.replies),
                f"{_f(p50)} / {_f(r.p(0.95))} / {_f(r.p(0.99))}",
                f"{floor:.0f} ms",
                f"{p50 / r.latency_ms:.1f}×" if r.latency_ms else "—",
                _f(r.calls_per_reply, 2),
                f"{r.burst_size} replies: {r.burst_api_calls} call(s), {r.burst_latency_ms:.0f} ms",
                f"{r.webhooks.get('sent', '?')} / {r.webhooks.get('delivered', '?')}",
            ]
        )
    header = [
        "RTT",
        "replies",
        "reply → agent message p50 / p95 / p99 ms",
        "floor (debounce + 1 RTT)",
        "p50 ÷ RTT",
        "API calls per reply",
        "burst on one Case",
        "webhooks sent / delivered",
    ]
    debounce = replies[0].debounce_seconds
    return (
        "## Reply path\n\n"
        "A rep's public comment, written through the emulator's rep API → the simulated "
        "Apex package's trigger posts the signed webhook → the plugin answers 202 and "
        f"queues a read, which starts at once (notify debounce {debounce * 1000:.0f} ms: "
        "the first notification for a Case is read on its leading edge; only those "
        "arriving while that read is in flight share the next read) → one query with "
        "the plugin's own token → "
        "`host.deliver_agent_message`. Timed until the agent message is on the session. "
        "Replies go one at a time, round-robin over "
        f"{replies[0].cases} Cases; the burst writes several on one Case back to back.\n\n"
        + _table(header, rows)
        + "\n"
    )


def appends_section(appends: Sequence[AppendResult]) -> str:
    if not appends:
        return ""
    rows = [
        [
            f"{a.latency_ms:.0f} ms",
            str(a.concurrency),
            a.store,
            str(a.appends),
            _f(a.per_second),
            f"{_f(a.p(0.5))} / {_f(a.p(0.95))} / {_f(a.p(0.99))}",
            f"{a.p(0.5) / a.latency_ms:.1f}×" if a.latency_ms else "—",
            _f(a.calls_per_append, 3),
            str(a.errors),
        ]
        for a in appends
    ]
    header = [
        "RTT",
        "contacts writing",
        "store",
        "appends",
        "appends/s",
        "post_message → on the Case p50 / p95 / p99 ms",
        "p50 ÷ RTT",
        "API calls per append",
        "errors",
    ]
    return (
        "## Appends\n\n"
        "Contacts who write again while their Case is open "
        "(`bench/bench_appends.py`): each writes, waits until the plugin's append job "
        "for the message is done (the comment on the Case, its state read after it), "
        "and writes again: a closed loop. A lone append is one composite call (the "
        "comment, then the Case's state); appends ready while one is in flight go "
        "together, up to 25 a call (`cases/append_batch.py`).\n\n" + _table(header, rows) + "\n"
    )


def sweep_section(replies: Sequence[ReplyResult]) -> str:
    if not replies:
        return ""
    r = replies[0]
    quiet = r.day("quiet_open_cases_calls_per_day")
    shares = ", ".join(f"{quiet / quota:.1%} of {label}" for quota, label in QUOTAS)
    shares = "not measured in this run" if math.isnan(quiet) else shares
    calls = ", ".join(str(c) for r in replies for c in r.sweep_api_calls)
    settings = r.sweep_day.get("settings") or {}

    def setting(name: str) -> str:
        return _f(float(settings.get(name, float("nan"))), 0)

    return (
        "## Reconciliation sweep at idle\n\n"
        f"A sweep when nothing changed costs {r.calls_per_idle_sweep:.1f} API calls (each "
        f"measured sweep, at every latency: {calls}): the discovery queries of its three "
        "streams (Cases, public CaseComments, outgoing EmailMessages) in one composite. "
        "Over a simulated day at the default settings (the plugin on a manual clock, "
        "every sweep a real read of the emulator, `bench/sweep_day.py`): "
        f"**{_f(r.day('no_open_case_calls_per_day'), 0)} calls** with no open Case; "
        f"**{_f(quiet, 0)} calls** with open Cases, healthy webhooks and nothing "
        f"happening (the package's digest arriving every minute, a sweep every "
        f"{setting('sweep_digest_interval_seconds')} s): {shares}. Without digests the "
        f"sweep runs every {setting('sweep_healthy_interval_seconds')} s, and every "
        f"{setting('sweep_interval_seconds')} s while a conversation is in progress "
        f"(activity in the last {setting('sweep_hot_seconds')} s). A reply whose webhook "
        f"was lost (the package's doorbell never sent) arrived, with the next digest, "
        f"after **{_f(r.day('lost_reply_in_conversation_seconds'), 0)} s** of clock time "
        f"in a conversation in progress, and after "
        f"**{_f(r.day('lost_reply_after_quiet_seconds'), 0)} s** on a Case quiet for hours "
        "(the reply written just after a digest ran: the worst phase; docs/design.md).\n"
    )


def profile_section(profile: ProfileResult | None, notes: str) -> str:
    if profile is None:
        return ""
    cell = CellResult.from_json(profile.cell)

    def rows(spots: Sequence[HotSpot]) -> list[list[str]]:
        return [
            [f"`{s.where}`", f"`{s.function}`", f"{s.seconds:.3f}", f"{s.share:.1%}"] for s in spots
        ]

    header = ["where (definition)", "function", "CPU s", "share"]
    gc_total = sum(profile.gc_seconds)
    text = profile.tree
    tree = f"\n<details><summary>pyinstrument's call tree</summary>\n\n```\n{text}```\n</details>\n"
    per_handoff = 1000 * profile.cpu_seconds / max(cell.handoffs, 1)
    intro = " ".join(
        [
            "`pyinstrument` over the timed part of a plugin measurement: 0 ms injected",
            f"latency, {cell.spec.concurrency} concurrent conversations of",
            f"{cell.spec.messages} messages, {cell.handoffs} handoffs in",
            f"{cell.elapsed_seconds:.1f} s ({cell.per_second:.0f}/s under the profiler).",
            f"The process used {profile.cpu_seconds:.2f} s of CPU in",
            f"{profile.profiled_seconds:.2f} s ({per_handoff:.1f} ms a handoff, profiler",
            "included). Samples are taken on the CPU clock, so waiting (for the emulator",
            "or for a core) is not in them. Garbage collection took",
            f"{gc_total * 1000:.0f} ms ({sum(profile.gc_collections)} collections). Only",
            "the plugin's host process is profiled: the emulator runs elsewhere. The",
            "reference host's own work (its session store, `devhost/`) is in the measured",
            "path, as it is in the latency figures.",
        ]
    )
    return f"""## Profile

{intro}

### The project's heaviest functions

Each function's own time plus the library code it calls directly (pydantic,
json, aiohttp), its calls into other project functions left out: the line to
change is in the function named.

{_table(header, rows(profile.plugin_by_own_time))}

### Heaviest functions by their own time (any code)

{_table(header, rows(profile.by_self_time))}
{tree if text else ""}
{notes}
"""


def render(run: Run, *, profile_notes: str = "", results_file: str = "bench/results.json") -> str:
    cells = Cells(run.cells)
    parts = [
        header(run, results_file),
        goals_section(cells.get, run.replies, run.goal_cells),
        summary_section(run, cells),
        method(run),
        calls_section(cells),
        latency_section(cells),
        throughput_section(cells),
        cpu_section(cells),
        rss_section(cells),
        outbox_section(run.outbox_cells),
        collector_section(run.collector_cells, cells),
        replies_section(run.replies),
        appends_section(run.appends),
        sweep_section(run.replies),
        profile_section(run.profile, profile_notes),
    ]
    return "\n".join(p for p in parts if p).rstrip() + "\n"
