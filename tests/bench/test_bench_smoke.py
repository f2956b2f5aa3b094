"""Every benchmark script, run tiny, so none of them can rot.

The shapes are checked, never the timings: that each contender hands off the
conversations it was given and the emulator counted its calls (one composite
per plugin handoff, a call per record for the baselines), that the reply path
delivers, that the profile names project code, that the report renders every
section, and that the full plan covers the conditions the report promises.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import ab_pairs  # noqa: E402
import bench_appends  # noqa: E402
import bench_handoff  # noqa: E402
import bench_replies  # noqa: E402
import contender_aiohttp  # noqa: E402
import contender_plugin  # noqa: E402
import contender_simple_salesforce  # noqa: E402
import cpu_split  # noqa: E402
import handoff_waits  # noqa: E402
import machine_info  # noqa: E402
import profile_handoff  # noqa: E402
import render_goals  # noqa: E402
import render_results  # noqa: E402
import run_all  # noqa: E402
import store_choice  # noqa: E402
import store_writes  # noqa: E402
from emulator_process import EmulatorProcess  # noqa: E402
from handoff_workload import (  # noqa: E402
    CONCURRENCIES,
    LATENCIES_MS,
    MESSAGE_COUNTS,
    CellResult,
    CellSpec,
    Dispenser,
    closed_loop_async,
    percentile,
)

from opencx_salesforce.devhost.collector import settled_for_serving  # noqa: E402

MESSAGES = 3


def tiny(contender: str, outbox_workers: int | None = None) -> CellSpec:
    return CellSpec(
        contender=contender,
        latency_ms=0.0,
        messages=MESSAGES,
        concurrency=2,
        budget_seconds=0.05,
        max_handoffs=3,
        min_handoffs=2,
        outbox_workers=outbox_workers,
    )


def check_cell(result: CellResult, calls_each: int, endpoint: str) -> None:
    assert result.errors == 0, result.notes
    assert 2 <= result.handoffs <= 3
    assert len(result.latencies_ms) == result.handoffs
    assert result.api_calls == calls_each * result.handoffs
    assert result.calls_by_endpoint == {endpoint: result.api_calls}
    assert result.peak_rss_mb >= result.setup_rss_mb > 0
    assert result.server_cpu_seconds > 0
    assert result.per_second > 0


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with EmulatorProcess() as emulator:
        yield emulator.base_url


async def test_plugin_cell_makes_one_call_per_handoff_or_fewer(emulator_url: str) -> None:
    """One composite a handoff alone; handoffs that overlap share a graph request
    (and a lookup query for their Contacts)."""
    result = await contender_plugin.run_cell(tiny("plugin", outbox_workers=2), emulator_url)
    assert result.errors == 0, result.notes
    assert 2 <= result.handoffs <= 3 and len(result.latencies_ms) == result.handoffs
    assert 1 <= result.api_calls <= result.handoffs
    assert set(result.calls_by_endpoint) <= {"composite", "query"}
    assert result.calls_by_endpoint.get("composite", 0) >= 1


async def test_aiohttp_baseline_makes_a_call_per_record(emulator_url: str) -> None:
    result = await contender_aiohttp.run_cell(tiny("aiohttp"), emulator_url)
    check_cell(result, MESSAGES + 1, "sobjects")


async def test_simple_salesforce_baseline_makes_a_call_per_record(emulator_url: str) -> None:
    spec = tiny("simple-salesforce")
    result = await asyncio.to_thread(contender_simple_salesforce.run_cell, spec, emulator_url)
    check_cell(result, MESSAGES + 1, "sobjects")


def check_competent(result: CellResult) -> None:
    """The Case, then every comment in one sObject Collections call: 2 per handoff."""
    assert result.errors == 0, result.notes
    assert 2 <= result.handoffs <= 3
    assert result.api_calls == 2 * result.handoffs
    assert sum(result.calls_by_endpoint.values()) == result.api_calls
    assert result.calls_by_endpoint.get("sobjects") == result.handoffs, result.calls_by_endpoint


async def test_competent_aiohttp_baseline_makes_two_calls_per_handoff(emulator_url: str) -> None:
    spec = tiny("aiohttp+collections")
    check_competent(
        await contender_aiohttp.run_cell(spec, emulator_url, contender_aiohttp.CollectionsAsync)
    )


async def test_competent_simple_salesforce_baseline_makes_two_calls_per_handoff(
    emulator_url: str,
) -> None:
    spec = tiny("simple-salesforce+collections")
    contender = contender_simple_salesforce
    check_competent(
        await asyncio.to_thread(contender.run_cell, spec, emulator_url, contender.Collections)
    )


async def test_the_loop_settles_the_collector_and_puts_it_back() -> None:
    """As `serve` once started: during the timed loop only, and a record written
    before the field existed reads as measured with CPython's defaults."""
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    async def handoff(item: int) -> None:
        seen.append(gc.get_threshold())
        await asyncio.sleep(0)

    work = Dispenser([1, 2, 3], 0.05, 2)
    with settled_for_serving(12_345):
        outcome = await closed_loop_async(work, 2, handoff)
    assert outcome.errors == 0 and len(outcome.latencies_ms) == len(seen) >= 2
    assert {threshold[0] for threshold in seen} == {12_345}
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    record = fake_cell("plugin", 50.0, 20, 100).to_json()
    del record["spec"]["gc_threshold"]
    assert CellResult.from_json(record).spec.gc_threshold == 0


def test_a_cell_runs_in_its_own_process(emulator_url: str) -> None:
    answer = run_all.child("cell_process.py", emulator_url, asdict(tiny("aiohttp")))
    result = CellResult.from_json(answer)
    assert result.spec == tiny("aiohttp")
    check_cell(result, MESSAGES + 1, "sobjects")


def test_ab_pairs_runs_a_contender_from_a_checkout_with_its_variables(emulator_url: str) -> None:
    contender = ab_pairs.Contender.parse(f"aiohttp@{BENCH.parent}:OPENCX_AB=1,OTHER=a=b")
    assert (contender.name, contender.checkout) == ("aiohttp", BENCH.parent)
    assert contender.env == {"OPENCX_AB": "1", "OTHER": "a=b"}
    cell = ab_pairs.run_cell(contender, tiny("aiohttp"), emulator_url)
    assert cell.rate > 0 and cell.cpu_ms > 0


async def test_replies_are_delivered_and_counted(emulator_url: str) -> None:
    result = await bench_replies.run(emulator_url, latency_ms=0.0, replies=2)
    assert len(result.reply_latencies_ms) == 2
    assert result.reply_api_calls >= 2  # at least the one read per reply
    assert 1 <= result.burst_api_calls <= result.burst_size
    assert len(result.sweep_api_calls) == result.sweeps
    day = result.sweep_day
    assert day["no_open_case_calls_per_day"] == 0
    assert 0 < day["quiet_open_cases_calls_per_day"] <= 300
    assert day["lost_reply_in_conversation_seconds"] <= day["settings"]["sweep_interval_seconds"]
    # The package's digest: a minute at most, however long the Case was quiet.
    assert 0 < day["lost_reply_after_quiet_seconds"] <= day["settings"]["sweep_interval_seconds"]
    assert result.webhooks["delivered"] >= 2 + result.burst_size
    assert bench_replies.ReplyResult.from_json(json.loads(json.dumps(result.to_json()))) == result
    # The day moved its own emulator's clock, not this one's: a measurement after
    # it on this emulator still has its webhooks' timestamps believed.
    again = await bench_replies.run(emulator_url, latency_ms=0.0, replies=1)
    assert len(again.reply_latencies_ms) == 1


async def test_appends_land_and_are_counted(emulator_url: str) -> None:
    result = await bench_appends.measure(
        emulator_url, latency_ms=0.0, concurrency=3, budget_seconds=0.3, store="sqlite"
    )
    assert result.errors == 0
    assert result.appends == len(result.latencies_ms) >= 3
    # The calls the appends made are counted: one each at most (one alone, fewer together).
    assert 1 <= result.api_calls <= result.appends


async def test_profile_names_project_code(emulator_url: str, tmp_path: Path) -> None:
    result = await profile_handoff.run(emulator_url, MESSAGES, 0.2, tmp_path / "profile")
    assert result.by_self_time and result.plugin_by_own_time
    assert all(spot.where.startswith("opencx_salesforce/") for spot in result.plugin_by_own_time)
    assert (tmp_path / "profile.txt").read_text() == result.tree != ""
    assert (tmp_path / "profile.html").exists()
    assert CellResult.from_json(result.cell).handoffs > 0


async def test_cpu_split_charges_other_threads_apart(emulator_url: str) -> None:
    stop = threading.Event()

    def spin() -> None:  # CPU spent on a thread that is not the loop's
        while not stop.is_set():
            sum(range(1000))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        busy = await cpu_split.split(emulator_url, "plugin+memory", 0.0, budget_seconds=0.2)
    finally:
        stop.set()
        spinner.join()
    quiet = await cpu_split.split(emulator_url, "plugin+memory", 0.0, budget_seconds=0.2)
    other_threads = [float(row.split("|")[5].split()[0]) for row in (busy, quiet)]
    assert other_threads[0] > 0.1 and other_threads[1] < 0.05


async def test_handoff_waits_times_every_phase_and_puts_the_timers_back(
    emulator_url: str,
) -> None:
    original = handoff_waits.DevHost.handoff
    report = await handoff_waits.measure(
        emulator_url, "plugin", 0.0, budget_seconds=0.2, concurrency=2, conversations=4
    )
    for before, after in itertools.pairwise(handoff_waits.PHASES):
        assert f"| {before} → {after} |" in report
    assert "turns a handoff" in report and "SQLite writes" in report
    assert handoff_waits.DevHost.handoff is original


async def test_store_writes_counts_whole_rounds_and_their_commits() -> None:
    ceiling = await store_writes.measure(callers=3, seconds=0.05)
    assert ceiling.writes > 0 and ceiling.writes % store_writes.WRITES_A_ROUND == 0
    # Three callers in a row on one connection: never more commits than writes.
    assert 0 < ceiling.commits <= ceiling.writes
    assert "3 callers:" in ceiling.line() and "writes a commit" in ceiling.line()


async def test_a_bench_sqlite_store_leaves_no_file_behind() -> None:
    def folders() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("opencx-bench-*"))

    before = folders()
    opened = await store_choice.open_bench_store("sqlite", count=False)
    await opened.store.set("ns", "k", b"v")
    made = folders() - before
    assert len(made) == 1 and any(next(iter(made)).iterdir())  # the database is there
    await opened.store.close()
    await opened.cleanup()
    assert not any(folder.exists() for folder in made)


async def test_in_process_handoff_benchmark() -> None:
    result = await bench_handoff.run(0.0, MESSAGES, 2, 3)
    assert result.handoffs == 3 and result.calls_per_handoff == 1.0
    assert "| 0 ms | 3 | 2 | 3 | 1.00 |" in bench_handoff.table([result])


def test_full_plan_covers_every_condition() -> None:
    cells = run_all.FULL.handoff_cells()
    conditions = {(c.latency_ms, c.messages, c.concurrency) for c in cells}
    assert conditions == {
        (latency, messages, concurrency)
        for latency in LATENCIES_MS
        for messages in MESSAGE_COUNTS
        for concurrency in CONCURRENCIES
    }
    # every contender (the plugin on every store, every baseline) in every condition
    assert {c.contender for c in cells} == set(render_results.CONTENDERS)
    assert len(cells) == len(render_results.CONTENDERS) * len(conditions)
    assert {"plugin+redis", "plugin+postgres", "aiohttp+collections"} <= {
        c.contender for c in run_all.QUICK.handoff_cells()
    }
    assert {c.outbox_workers for c in run_all.FULL.outbox_cells()} == {1, 16, 64, 256}
    # The goals' cell again with CPython's default collector; every other cell settled.
    for plan in (run_all.FULL, run_all.QUICK):
        defaults = plan.collector_cells()
        assert [c.contender for c in defaults] == list(render_results.COLLECTOR_CONTENDERS)
        assert {(c.latency_ms, c.messages, c.concurrency, c.gc_threshold) for c in defaults} == {
            (50.0, 20, 100, 0)
        }
        assert all(c.gc_threshold == 50_000 for c in plan.handoff_cells())
    assert len(run_all.QUICK.handoff_cells()) < len(cells)


def test_goal_rounds_interleave_every_throughput_contender() -> None:
    rounds = run_all.QUICK.goal_rounds_cells()
    assert len(rounds) == run_all.QUICK.goal_rounds >= 3
    for specs in rounds:
        assert sorted(s.contender for s in specs) == sorted(render_goals.GOAL_CONTENDERS)
        assert {(s.latency_ms, s.messages, s.concurrency) for s in specs} == {(50.0, 20, 100)}
    # Each round starts with another contender.
    assert len({specs[0].contender for specs in rounds}) == len(rounds)


RATE = "handoffs/s, 100 concurrent, 20-msg, 50 ms RTT, SQLite"


def test_goal_ratios_are_medians_of_the_rounds() -> None:
    def at(contender: str, per_second: float) -> CellResult:
        cell = fake_cell(contender, 50.0, 20, 100)
        return replace(cell, handoffs=int(per_second), latencies_ms=[100.0] * int(per_second))

    first = {"plugin": at("plugin", 900), "aiohttp+collections": at("aiohttp+collections", 500)}

    def get(contender: str, key: tuple[float, int, int]) -> CellResult | None:
        return first.get(contender) if key == render_goals.LOADED else None

    # Round by round: 900/500 = 1.8, 800/400 = 2.0, 1050/500 = 2.1; a lucky or
    # unlucky round alone does not decide.
    again = [
        at("plugin", 800),
        at("aiohttp+collections", 400),
        at("aiohttp+collections", 500),
        at("plugin", 1050),
    ]
    [sqlite] = [g for g in render_goals.goals(get, [], again) if g.figure.startswith(RATE)]
    assert sqlite.measured.startswith(
        "900.0/s = 2.00× aiohttp+collections (500.0/s; median of 3 rounds, 1.80–2.10×)"
    )
    # Without rounds, the one cell is the figure.
    [alone] = [g for g in render_goals.goals(get, []) if g.figure.startswith(RATE)]
    assert alone.measured.startswith("900.0/s = 1.80× aiohttp+collections (500.0/s), ")


def test_machine_description_and_cpu_probe() -> None:
    machine = machine_info.describe()
    assert machine.nproc > 0 and machine.python and machine.date
    assert "simple-salesforce" in machine.packages
    probe = machine_info.probe_cpu(loops=10_000)
    assert probe.alone > 0 and probe.two_at_once > 0


def fake_cell(contender: str, latency: float, messages: int, concurrency: int) -> CellResult:
    if contender in render_results.PLUGINS:
        calls = 1
    elif contender in render_results.COMPETENT:
        calls = 2
    else:
        calls = messages + 1
    return CellResult(
        spec=CellSpec(contender, latency, messages, concurrency, 1.0, 10),
        handoffs=10,
        api_calls=10 * calls,
        calls_by_endpoint={"composite" if calls == 1 else "sobjects": 10 * calls},
        latencies_ms=[latency + i for i in range(10)],
        elapsed_seconds=1.0,
        peak_rss_mb=70.0,
        setup_rss_mb=60.0,
        client_cpu_seconds=0.02,
        server_cpu_seconds=0.01 * calls,
    )


def test_goals_say_how_much_of_the_baseline_is_the_emulators_queue() -> None:
    def cell(contender: str, concurrency: int, p50: float, per_second: float) -> CellResult:
        calls = 2 if contender in render_results.COMPETENT else 0.1
        return replace(
            fake_cell(contender, 50.0, 20, concurrency),
            handoffs=int(per_second),
            api_calls=int(per_second * calls),
            latencies_ms=[p50] * int(per_second),
            server_cpu_seconds=0.5 if contender in render_results.COMPETENT else 0.25,
        )

    cells = {
        ("aiohttp+collections", 1): cell("aiohttp+collections", 1, 100.0, 10),
        ("aiohttp+collections", 100): cell("aiohttp+collections", 100, 200.0, 500),
        ("plugin", 100): cell("plugin", 100, 120.0, 800),
        ("plugin+redis", 100): cell("plugin+redis", 100, 110.0, 900),
    }

    def get(contender: str, key: tuple[float, int, int]) -> CellResult | None:
        return cells.get((contender, key[2])) if key[:2] == (50.0, 20) else None

    note = render_goals.baseline_queue_note(get)
    # 100 clients at its lone 100 ms: 1,000/s without a queue.
    assert "100 / 100.0 ms = 1,000 handoffs/s" in note
    assert "SQLite 0.80×, Redis 0.90×." in note
    assert "0.50 of a core busy answering 1,000 requests a second" in note
    assert "0.31 ms of the emulator's CPU a handoff against 1.00 ms" in note
    assert "mostly the emulator's queue" in note
    # An emulator with room to spare is not called the cause.
    cells[("aiohttp+collections", 100)] = replace(
        cells[("aiohttp+collections", 100)], server_cpu_seconds=0.2
    )
    assert "partly the emulator: one Python process" in render_goals.baseline_queue_note(get)
    # Without the lone cell there is nothing to say.
    del cells[("aiohttp+collections", 1)]
    assert render_goals.baseline_queue_note(get) == ""


def test_goals_say_what_the_sqlite_figure_is_made_of() -> None:
    def cell(contender: str, per_second: float, cpu_ms: float, server_busy: float) -> CellResult:
        return replace(
            fake_cell(contender, 50.0, 20, 100),
            handoffs=int(per_second),
            latencies_ms=[100.0] * int(per_second),
            client_cpu_seconds=per_second * cpu_ms / 1000,
            server_cpu_seconds=server_busy,
        )

    cells = {
        "plugin": cell("plugin", 700, 1.25, 0.3),
        "plugin+memory": cell("plugin+memory", 1000, 0.5, 0.4),
        "simple-salesforce+collections": cell("simple-salesforce+collections", 350, 2.0, 0.65),
    }

    def get(contender: str, key: tuple[float, int, int]) -> CellResult | None:
        return cells.get(contender) if key == render_goals.LOADED else None

    note = render_goals.sqlite_figure_note(get)
    assert "kept 0.88 of a core busy, 1.25 ms of CPU a handoff" in note
    assert "(the memory store) it spends 0.50 ms" in note
    assert "are the other 0.75 ms" in note
    assert "2.00 ms a handoff in its process (0.70 of a core" in note
    assert "keeps 0.65 of a core busy" in note
    # 1,000/s against 3 × 350/s: not reached in the one round.
    assert "Three times its rate (1,050.0/s) was reached" in note
    assert "in 0 of 1 rounds" in note
    again = [
        cell("plugin+memory", 1100, 0.5, 0.4),
        cell("simple-salesforce+collections", 350, 2, 0.6),
    ]
    assert "in 1 of 2 rounds" in render_goals.sqlite_figure_note(get, again)
    # The SQLite row names that ceiling beside its goal.
    [sqlite] = [g for g in render_goals.goals(get, []) if g.figure.startswith(RATE)]
    assert "keeping nothing durable (memory store) 1,000.0/s = 2.86×" in sqlite.floor
    del cells["plugin+memory"]
    assert render_goals.sqlite_figure_note(get) == ""


def test_report_renders_every_section() -> None:
    cells = [
        fake_cell(contender, latency, messages, concurrency)
        for latency in (0.0, 50.0)
        for messages in (5, 200)
        for concurrency in (1, 100)
        for contender in render_results.CONTENDERS
    ]
    outbox = fake_cell("plugin", 50.0, 20, 100)
    run = run_all.Run(
        plan="test",
        command=".venv/bin/python bench/run_all.py",
        machine=machine_info.describe(),
        cpu_probes=[machine_info.CpuProbe("00:00:00", "0.1 0.1 0.1", 1.0, 0.9)],
        cells=cells,
        outbox_cells=[
            replace(outbox, spec=replace(outbox.spec, outbox_workers=workers)) for workers in (1, 4)
        ],
        appends=[bench_appends.AppendResult(50.0, 100, "sqlite", 400, 2.0, 16, [110.0] * 400, 0)],
        collector_cells=[
            replace(
                cell,
                spec=replace(cell.spec, gc_threshold=0),
                elapsed_seconds=1.0 if cell.spec.contender in render_results.COMPETENT else 2.0,
            )
            for cell in (
                fake_cell(contender, 50.0, 200, 100)
                for contender in render_results.COLLECTOR_CONTENDERS
            )
        ],
    )
    again = run_all.Run.from_json(json.loads(json.dumps(run.to_json())))
    text = render_results.render(again, profile_notes="### Reading the profile\n")
    for heading in (
        "## Summary",
        "## How it is measured",
        "## API calls per handoff",
        "## Handoff to Case latency (ms)",
        "## Sustained handoffs per second",
        "## CPU per handoff (ms)",
        "## Peak RSS (MB)",
        "## What the outbox's concurrency costs and gains",
        "## Appends",
        "## Python's garbage collector",
    ):
        assert heading in text
    # calls of the four plugins, the two competent and the two naive baselines; ratios
    row = "| 200 | " + "1.00 | " * 4 + "2.00 | 2.00 | 201.00 | 201.00 | 2.0× | 2.0× | 201× | 201× |"
    assert row in text
    assert again.machine.uname in text
    assert (
        "| 50 ms | 100 | sqlite | 400 | 200.0 | 110.0 / 110.0 / 110.0 | 2.2× | 0.040 | 0 |" in text
    )
    # settled (the tables' cell) against CPython's defaults, each against its own baseline
    assert "| plugin+redis | 10.0 (1.00×) | 5.0 (0.50×) | 2.00 | 2.00 |" in text
    assert "| aiohttp+collections | 10.0 (1.00×) | 10.0 (1.00×) | 2.00 | 2.00 |" in text
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0
