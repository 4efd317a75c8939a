"""One builder's column on the Build screen: state, progress bar with ETA, loss plot, log."""
from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, RichLog

from .loss_plot import LossPlot


def format_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class BuildPanel(Vertical):
    """Updated only from the UI thread (the build worker uses app.call_from_thread)."""

    def __init__(self, title: str, *, with_plot: bool, **kw):
        super().__init__(**kw)
        self.border_title = title
        self.with_plot = with_plot
        self.first: tuple[float, float] | None = None  # (time, done) at the first report
        self.began: float | None = None  # when this builder started
        self.eta_s: float | None = None
        self.outcome: str | None = None  # done, cancelled or failed; kept after the screen is gone

    def compose(self) -> ComposeResult:
        yield Label("waiting", classes="state")
        yield ProgressBar(show_eta=False, classes="bar")
        yield Label("", classes="eta")
        if self.with_plot:
            self.loss_plot = LossPlot(classes="loss")
            yield self.loss_plot
        yield RichLog(classes="log", wrap=True, markup=False, max_lines=500, min_width=20)  # default 78 cuts half-width logs

    def set_state(self, text: str, css: str = "") -> None:
        label = self.query_one(".state", Label)
        label.update(text)
        label.set_classes(f"state {css}".strip())

    def on_mount(self) -> None:
        # 0%, never the bar's indeterminate animation: it redraws many times a second and takes
        # CPU from the builders on a small machine. A once-a-second clock shows that work goes on.
        self.query_one(ProgressBar).update(total=1, progress=0)
        self.set_interval(1.0, self._tick)

    def start(self) -> None:
        self.began = time.monotonic()

    def _tick(self) -> None:
        if self.began is None:
            return
        elapsed = format_seconds(time.monotonic() - self.began)
        eta = f" · ETA {format_seconds(self.eta_s)}" if self.eta_s is not None else ""
        self.query_one(".eta", Label).update(f"elapsed {elapsed}{eta}")

    def progress(self, done: float, total: float, eta_s: float | None = None) -> None:
        """Move the bar; without the builder's own ETA, estimate it from the rate since the first report."""
        now = time.monotonic()
        if self.first is None or done < self.first[1]:
            self.first = (now, done)
        self.query_one(ProgressBar).update(total=total, progress=done)
        t0, done0 = self.first
        if eta_s is None and total and done > done0:
            eta_s = (now - t0) / (done - done0) * (total - done)
        self.eta_s = eta_s if done < total else None
        self._tick()

    def finish(self, text: str, css: str) -> None:
        bar = self.query_one(ProgressBar)
        if css == "done" and bar.total:
            bar.update(progress=bar.total)
        self.began = None
        self.query_one(".eta", Label).update("")
        self.set_state(text, css)
        self.outcome = css

    def add_loss(self, step: int, loss: float | None, val_loss: float | None) -> None:
        if self.with_plot:
            self.loss_plot.add(step, loss, val_loss)

    def log_line(self, text: str) -> None:
        self.query_one(RichLog).write(text)
