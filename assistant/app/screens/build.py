"""Build: each approach's builder side by side (progress, ETA, loss plot, log), then evaluation.

All the work runs in one thread worker, so the interface never freezes; every update comes back
to the UI thread through app.call_from_thread. The builders run one after another, in the
registry's build order (what an approach requires first), because they share the machine's
cores and the run's manifest. Bars, plots and states move from Events (events.py), never from
the text of a message; `x` sets the one cancel token every stage checks.
"""
from __future__ import annotations

import threading
import time
import traceback

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar

from ... import approaches as registry
from ...events import Event
from .. import backend
from ..backend import BuildSettings
from ..widgets.build_panel import BuildPanel, format_seconds


class BuildScreen(Screen):
    BINDINGS = [
        Binding("x", "cancel", "Cancel build"),
        Binding("enter", "results", "Results", show=False),
        Binding("escape", "back", "Home"),
    ]

    def __init__(self, settings: BuildSettings, **kw):
        super().__init__(**kw)
        self.settings = settings
        self.order = [a for a in registry.build_order(settings.approaches) if registry.get(a).builds]
        self.cancel_event = threading.Event()
        self.current_run = None
        self.finished = False
        self.report_ready = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="panels"):
            for name in self.order:
                approach = registry.get(name)
                yield BuildPanel(approach.title, with_plot=approach.trains, id=f"panel-{name}", classes="panel")
        with Vertical(id="eval-box", classes="box") as box:
            box.border_title = "Evaluation"
            yield Label("waits for the builds", id="eval-state")
            yield ProgressBar(id="eval-bar", show_eta=False)
        yield Footer()

    def on_mount(self) -> None:
        profile = "quick" if self.settings.quick else "full"
        self.sub_title = f"building {', '.join(self.settings.approaches)} on {self.settings.corpus_label()} ({profile})"
        self.panels = {p.id.removeprefix("panel-"): p for p in self.query(BuildPanel)}
        self.query_one("#eval-bar", ProgressBar).update(total=1, progress=0)  # no indeterminate animation: it costs CPU
        self.build_all()

    # -- actions -----------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.finished:
            self.notify("nothing to cancel: the build has finished")
            return
        self.cancel_event.set()
        self.notify("cancelling: the current step finishes first", severity="warning")

    def action_back(self) -> None:
        if not self.finished:
            self.notify("the build is still running: press x to cancel it first", severity="warning")
            return
        self.app.pop_screen()

    def action_results(self) -> None:
        if self.finished and self.current_run is not None:
            self.app.open_results(self.current_run, replace=True)

    # -- UI-thread helpers (called through call_from_thread) -------------------------------------
    def panel(self, approach: str) -> BuildPanel:
        return self.panels[approach]  # a dict filled on mount: workers must not query the DOM

    def _eval(self, state: str, done: float | None = None, total: float | None = None) -> None:
        """Set the evaluation line, and the bar when `total` is given."""
        self.query_one("#eval-state", Label).update(state)
        if total is not None:
            self.query_one("#eval-bar", ProgressBar).update(total=total, progress=done or 0)

    def _finished(self, ok: bool) -> None:
        self.finished = True
        self.query_one("#eval-box").border_subtitle = "Enter: results · Esc: home" if ok else "Esc: home"
        if ok and self.report_ready:
            self.app.open_results(self.current_run, replace=True)

    # -- the worker -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="build")
    def build_all(self) -> None:
        call = self.app.call_from_thread
        try:
            corpus = backend.load_corpus(self.settings)
            self.current_run = backend.create_run(self.app.out, corpus, self.settings)
        except Exception as e:
            call(self._eval, f"✗ could not start: {e}")
            call(self._finished, False)
            return
        call(self.notify, f"run {self.current_run.id}", timeout=4)
        built = []
        for approach in self.order:
            if self.cancel_event.is_set():
                call(self.panel(approach).finish, "cancelled before it started", "cancelled")
                continue
            if self._build_one(approach, corpus):
                built.append(approach)
        if self.cancel_event.is_set():
            call(self._eval, "cancelled: no evaluation")
            call(self._finished, False)
            return
        if not built:
            call(self._eval, "nothing was built: no evaluation")
            call(self._finished, False)
            return
        call(self._finished, self._evaluate(corpus, built))

    def _build_one(self, approach: str, corpus) -> bool:
        call = self.app.call_from_thread
        panel = self.panel(approach)
        call(panel.set_state, "building…", "running")
        call(panel.start)
        t0 = time.monotonic()
        last = {"message": None}

        def on_event(e: Event) -> None:
            if e.stage != approach:
                return
            if e.phase == "probe":
                call(panel.set_state, "probing what the base model already knows…", "running")
            elif e.phase in ("train", "eval", "done"):
                call(panel.set_state, "training…" if e.phase != "done" else "saving…", "running")
            if e.total:
                call(panel.progress, e.step, e.total, e.figures.get("eta_s"))
            loss, val_loss = e.figures.get("loss"), e.figures.get("val_loss")
            if loss is not None or val_loss is not None:
                if e.phase != "done":
                    call(panel.add_loss, e.step, loss, val_loss)
                parts = [f"step {e.step}/{e.total}"] + [f"{name} {v:.4f}" for name, v in
                                                        (("loss", loss), ("val_loss", val_loss)) if v is not None]
                call(panel.log_line, "  ".join(parts))
            elif e.message and e.message != last["message"]:  # a new phase, not every batch
                last["message"] = e.message
                call(panel.log_line, e.message)

        try:
            summary = backend.build(self.current_run, corpus, self.settings, approach, on_event, self.cancel_event)
            describe = registry.get(approach).describe
            for line in (describe(summary) if describe and summary else []):
                call(panel.log_line, line)
        except KeyboardInterrupt:  # Cancelled: the stage is recorded interrupted, its checkpoint kept
            if self.current_run.stage(approach).get("status") != "interrupted":
                self.current_run.set_stage(approach, "interrupted")
            call(panel.finish, "cancelled", "cancelled")
            return False
        except Exception as e:
            call(panel.log_line, traceback.format_exc(limit=3))
            call(panel.finish, f"✗ {str(e).splitlines()[0] if str(e) else type(e).__name__}", "failed")
            return False
        call(panel.finish, f"✓ done in {format_seconds(time.monotonic() - t0)}", "done")
        return True

    def _evaluate(self, corpus, built: list[str]) -> bool:
        """Evaluate and report; whether a report came out. The bar counts the approaches
        evaluated (the harness's events carry the count), never the text of its messages."""
        call = self.app.call_from_thread
        call(self._eval, "evaluating base (the reference) and " + ", ".join(built) + "…")

        def on_event(e: Event) -> None:
            if e.stage == "eval":
                call(self._eval, f"evaluating: {e.message}", e.step, e.total or len(built) + 1)

        try:
            backend.evaluate(self.current_run, corpus, self.settings, built, on_event, self.cancel_event)
        except KeyboardInterrupt:
            call(self._eval, "cancelled: no evaluation (the builds are kept: chat with the run from Home)")
            return False
        except Exception as e:
            call(self._eval, f"✗ evaluation failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            return False
        self.report_ready = backend.read_report(self.current_run) is not None
        call(self._eval, "✓ evaluated" if self.report_ready else "✗ evaluation wrote no report.json", 1, 1)
        return self.report_ready
