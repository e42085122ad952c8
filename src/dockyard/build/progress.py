"""Progress: step events, printed as BuildKit's ``--progress=plain`` or a live ``tty`` view.

Every step gets a number (``#3``) when it starts. ``plain`` prints::

    #3 [build 2/4] RUN make
    #3 0.412 compiling…
    #3 DONE 1.2s
    #4 [build 3/4] COPY a /a
    #4 CACHED

``tty`` shows the running steps of every stage at once (a rich ``Live``
table: parallel stages side by side) and the last lines of their output.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.table import Table


@dataclass
class Step:
    number: int
    name: str
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    cached: bool = False
    error: str = ""
    lines: list[str] = field(default_factory=list)


class Progress:
    """Collects events; subclasses show them. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: list[Step] = []
        self.warnings: list[str] = []

    def start(self, name: str) -> Step:
        with self.lock:
            s = Step(len(self.steps) + 1, name)
            self.steps.append(s)
        self.on_start(s)
        return s

    def log(self, step: Step, line: str) -> None:
        with self.lock:
            step.lines.append(line)
        self.on_log(step, line)

    def done(self, step: Step, *, cached: bool = False, error: str = "") -> None:
        step.ended = time.monotonic()
        step.cached = cached
        step.error = error
        self.on_done(step)

    def warn(self, message: str) -> None:
        with self.lock:
            self.warnings.append(message)
        self.on_warn(message)

    def close(self) -> None:
        pass

    def on_start(self, step: Step) -> None: ...
    def on_log(self, step: Step, line: str) -> None: ...
    def on_done(self, step: Step) -> None: ...
    def on_warn(self, message: str) -> None: ...


class PlainProgress(Progress):
    def __init__(self, out: TextIO | None = None) -> None:
        super().__init__()
        self.out = out or sys.stderr

    def _print(self, text: str) -> None:
        with self.lock:
            print(text, file=self.out, flush=True)

    def on_start(self, step: Step) -> None:
        self._print(f"#{step.number} {step.name}")

    def on_log(self, step: Step, line: str) -> None:
        self._print(f"#{step.number} {time.monotonic() - step.started:.3f} {line}")

    def on_done(self, step: Step) -> None:
        if step.cached:
            self._print(f"#{step.number} CACHED")
        elif step.error:
            self._print(f"#{step.number} ERROR: {step.error.splitlines()[0] if step.error else ''}")
        else:
            self._print(f"#{step.number} DONE {(step.ended or 0) - step.started:.1f}s")

    def on_warn(self, message: str) -> None:
        self._print(f"[Warning] {message}")


class TtyProgress(Progress):
    """A live view of the steps (rich), the running ones with their last lines."""

    def __init__(self, out: TextIO | None = None) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=out or sys.stderr)
        self.started = time.monotonic()
        self.live = Live(self._render(), console=self.console, refresh_per_second=8,
                         get_renderable=self._render, transient=False)
        self.live.start()

    def _render(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        t = Table.grid(padding=(0, 1))
        t.add_column(justify="left")
        t.add_column(justify="right")
        t.add_row(Text(f"[+] Building {time.monotonic() - self.started:.1f}s", style="bold"), "")
        for s in list(self.steps):
            if s.cached:
                t.add_row(Text(f" => CACHED {s.name}", style="blue"), "")
            elif s.error:
                t.add_row(Text(f" => ERROR {s.name}", style="red"), "")
            elif s.ended is not None:
                t.add_row(Text(f" => {s.name}", style="blue"), f"{s.ended - s.started:.1f}s")
            else:
                t.add_row(Text(f" => {s.name}", style="yellow"), f"{time.monotonic() - s.started:.1f}s")
                for line in s.lines[-5:]:
                    t.add_row(Text(f"    {line}", style="dim"), "")
        return t

    def on_warn(self, message: str) -> None:
        self.console.print(f"[yellow][Warning] {message}[/yellow]")

    def close(self) -> None:
        self.live.stop()


class QuietProgress(Progress):
    pass
