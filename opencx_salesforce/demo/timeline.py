"""How the demo shows its steps: rich on a terminal, plain lines when piped."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table


@dataclass
class Step:
    title: str
    ok: bool
    seconds: float
    api_calls: int
    details: list[str] = field(default_factory=list)


class Timeline:
    def __init__(self, *, plain: bool | None = None) -> None:
        tty = sys.stdout.isatty() if plain is None else not plain
        # Piped output is for logs and CI: one line per line, never re-wrapped.
        self._console = Console(
            highlight=False, no_color=not tty, force_terminal=tty or None, soft_wrap=not tty
        )
        self._rich = tty
        self.steps: list[Step] = []

    def say(self, text: str) -> None:
        self._console.print(text, markup=False)

    def step(self, step: Step) -> None:
        self.steps.append(step)
        mark = "✓" if step.ok else "✗"
        cost = f"{step.api_calls} API call" + ("" if step.api_calls == 1 else "s")
        line = f"{mark} {step.title}  ({step.seconds * 1000:.0f} ms, {cost})"
        if self._rich:
            colour = "green" if step.ok else "red"
            self._console.print(
                f"[{colour}]{mark}[/] [bold]{step.title}[/]  "
                f"[dim]{step.seconds * 1000:.0f} ms · {cost}[/]"
            )
        else:
            self._console.print(line, markup=False)
        for detail in step.details:
            self._console.print(f"    {detail}", markup=False)

    def summary(self) -> None:
        table = Table(title="Summary", show_lines=False)
        table.add_column("step")
        table.add_column("result")
        table.add_column("time", justify="right")
        table.add_column("API calls", justify="right")
        for step in self.steps:
            table.add_row(
                step.title,
                "ok" if step.ok else "FAILED",
                f"{step.seconds * 1000:.0f} ms",
                str(step.api_calls),
            )
        total = sum(s.api_calls for s in self.steps)
        table.add_row("total", "", f"{sum(s.seconds for s in self.steps):.2f} s", str(total))
        self._console.print(table)
