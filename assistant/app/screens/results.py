"""Results: the recommendation and its reasons, accuracy with confidence intervals per approach
and question kind, bias, overfitting, cost, and the HTML report."""
from __future__ import annotations

import shutil
import subprocess
import webbrowser
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from .. import backend
from ..widgets.report_view import TablesView, heat_rows, recommendation_text, recommended_approach, report_tables


class ResultsScreen(Screen):
    BINDINGS = [
        Binding("o", "open_report", "Open HTML report"),
        Binding("c", "chat", "Chat with winner"),
        Binding("escape", "app.go_home", "Home"),
    ]

    def __init__(self, run, **kw):
        super().__init__(**kw)
        self.current_run = run
        self.report = backend.read_report(run)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._headline(), id="results-head")
        if not self.report:
            yield Static(self._no_report(), id="no-report")
        else:
            t = report_tables(self.report)
            with TabbedContent(id="results-tabs"):
                with TabPane("Verdict", id="tab-rec"):
                    with VerticalScroll():
                        yield Static(recommendation_text(self.report), id="rec")
                with TabPane("Accuracy", id="tab-metrics"):
                    yield TablesView([("Accuracy on the test split (95% bootstrap CI, n)", t["accuracy"]),
                                      ("Paired differences", t["paired"]),
                                      ("Answer metrics", t["metrics"]),
                                      ("Closed-form items", t["closed"])], id="metrics")
                with TabPane("Bias", id="tab-bias"):
                    yield TablesView([("BBQ bias scores by category (95% CI; red: stereotyped, blue: against)",
                                       heat_rows(t["bias_grid"])),
                                      (t["bias_paired_note"], t["bias_paired"]),
                                      ("BBQ probes", t["bbq"]), ("Counterfactual swaps", t["swaps"])], id="bias")
                with TabPane("Overfitting", id="tab-overfit"):
                    yield TablesView([("Train/test gap, paraphrase, retention", t["gap"]),
                                      ("Loss curves", t["loss"])], id="overfit")
                with TabPane("Cost", id="tab-cost"):
                    yield TablesView([("Cost", t["cost"])], note=self.report.get("update_note") or "", id="cost")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "results"

    def _headline(self) -> Text:
        m = self.current_run.manifest
        t = Text()
        t.append(f"{m['corpus']['name']}", style="bold")
        t.append(f" · run {m['id']}")
        winner = recommended_approach(self.report)
        if winner:
            t.append(" · recommended: ")
            t.append(winner, style="bold green")
        html = self._html_path()
        t.append("\nreport: ")
        t.append(str(html) if html else "none yet", style="underline" if html else "italic")
        return t

    def _no_report(self) -> Text:
        return Text("This run has no report.json yet.\nYou can still chat with what was built (c).", style="italic")

    def _html_path(self) -> Path | None:
        path = Path(self.current_run.path) / "report.html"
        return path.resolve() if path.exists() else None

    def action_open_report(self) -> None:
        path = self._html_path()
        if path is None:
            self.notify("this run has no report.html", severity="warning")
            return
        opener = shutil.which("xdg-open") or shutil.which("open")
        try:
            if opener:
                subprocess.Popen([opener, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                opened = True
            else:
                opened = webbrowser.open(path.as_uri())
        except OSError:
            opened = False
        self.notify(f"opened {path}" if opened else f"no browser here: the report is at {path}", timeout=8)

    def action_chat(self) -> None:
        self.app.open_chat(self.current_run, approach=recommended_approach(self.report))
