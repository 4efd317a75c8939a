"""Home: choose a corpus (a shipped domain or a folder), see its check, set the build, list past runs."""
from __future__ import annotations

import typing

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (Button, Checkbox, DataTable, Footer, Header, Input, Label, RadioButton, RadioSet,
                             Select, Static)

from ... import approaches as registry
from ...pipeline import DEFAULT_APPROACHES
from .. import backend
from ..backend import BuildSettings

DOMAINS = ("support", "legal", "medical")
FOLDER = "folder"
# what a person builds here; an upper bound (the oracle reader) is an evaluation yardstick for
# `compare --approaches ...,oracle`, and 80 columns have no room for it
BUILDABLE = [name for name in registry.names() if registry.get(name).builds and not registry.get(name).bound]
# The settings the form shows: every Config field marked FORM, once, from the first approach that has it.
FORM_FIELDS = {key: (owner, info) for key, owners in registry.config_fields(BUILDABLE).items()
               for owner, info in list(owners.items())[:1] if (info.json_schema_extra or {}).get("form")}


def setting_widget(key: str, field):
    """An Input for a number, a Select for a choice; filled from the profile on mount."""
    _, info = field
    if typing.get_origin(info.annotation) is typing.Literal:
        choices = typing.get_args(info.annotation)
        return Select([(c, c) for c in choices], value=choices[0], allow_blank=False, id=f"set-{key}", compact=True,
                      tooltip=info.description)
    return Input("", id=f"set-{key}", compact=True, tooltip=info.description, placeholder="none")


def _text(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
STAGE_MARKS = {"done": "✓", "failed": "✗", "interrupted": "⏸", "running": "…", "pending": "·"}


class HomeScreen(Screen):
    BINDINGS = [
        Binding("b", "build", "Build"),
        Binding("r", "refresh_runs", "Refresh runs"),
        Binding("enter", "open_run", "Open run", show=False),
        Binding("c", "chat_run", "Chat with run"),
    ]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.corpus_ok = False
        self.filled: dict[str, str] = {}  # each setting as the profile filled it in

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="home"):
            with Horizontal(id="new-run"):
                with Vertical(id="corpus-box", classes="box") as box:
                    box.border_title = "Corpus"
                    with RadioSet(id="source", compact=True):
                        for i, d in enumerate(DOMAINS):
                            yield RadioButton(d, value=i == 0, name=d, id=f"src-{d}")
                        yield RadioButton("corpus folder", name=FOLDER, id="src-folder")
                    yield Input(placeholder="path to a corpus folder", id="corpus-path", disabled=True, compact=True)
                    yield Static("", id="corpus-summary")
                with Vertical(id="settings-box", classes="box") as box:
                    box.border_title = "Settings"
                    with Grid(id="settings"):
                        yield Label("base model")
                        yield Input(placeholder="embedded SmolLM2-135M", id="base-model", compact=True)
                        yield Label("embeddings")
                        yield Input(placeholder="embedded all-MiniLM-L6-v2", id="embedding-model", compact=True)
                        yield Label("approaches")
                        with Horizontal(id="approaches"):
                            for name in BUILDABLE:
                                yield Checkbox(name, value=name in DEFAULT_APPROACHES, id=f"ap-{name}", compact=True)
                        yield Label("profile")
                        with RadioSet(id="profile", compact=True):
                            yield RadioButton("quick", value=True, name="quick")
                            yield RadioButton("full", name="full")
                        for key, field in FORM_FIELDS.items():  # from the approaches' Configs
                            yield Label(key.replace("_", " "))
                            yield setting_widget(key, field)
                    yield Button("Build and compare", id="build", variant="primary", compact=True)
            with Vertical(id="runs-box", classes="box") as box:
                box.border_title = "Past runs (Enter: results, c: chat)"
                yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "assistant"
        self.sub_title = "fine-tune or retrieve?"
        self.query_one("#runs", DataTable).add_columns("run", "corpus", "recommended", "stages")
        self._apply_profile(quick=True)
        self.action_refresh_runs()
        self.check_corpus()

    def on_screen_resume(self) -> None:
        self.action_refresh_runs()

    def _apply_profile(self, quick: bool) -> None:
        """Fill the settings with their defaults in this profile, from the approaches' Configs."""
        self.filled = {}
        for key, (owner, _) in FORM_FIELDS.items():
            value = _text(registry.get(owner).Config.default_of(key, quick))
            self.query_one(f"#set-{key}").value = value
            self.filled[key] = value

    def _given_settings(self) -> dict:
        """The settings the person changed from what the profile filled in (the rest stay each
        approach's own default: hybrid's quick profile caps its steps, ft's does not)."""
        values = {}
        for key, (_, info) in FORM_FIELDS.items():
            text = str(self.query_one(f"#set-{key}").value).strip()
            if text == self.filled.get(key):
                continue
            kind = next((t for t in (int, float) if t in (info.annotation, *typing.get_args(info.annotation))), str)
            try:
                values[key] = None if text == "" else kind(text)
            except ValueError:
                raise ValueError(f"{key.replace('_', ' ')}: {text!r} is not a {kind.__name__} number") from None
        return values

    # -- corpus ----------------------------------------------------------------------------
    @on(RadioSet.Changed, "#source")
    def _source_changed(self, event: RadioSet.Changed) -> None:
        folder = event.pressed.name == FOLDER
        path = self.query_one("#corpus-path", Input)
        path.disabled = not folder
        if folder:
            path.focus()
        self.check_corpus()

    @on(RadioSet.Changed, "#profile")
    def _profile_changed(self, event: RadioSet.Changed) -> None:
        self._apply_profile(quick=event.pressed.name == "quick")

    @on(Input.Submitted, "#corpus-path")
    def _path_submitted(self) -> None:
        self.check_corpus()

    def _source(self) -> tuple[str | None, str | None]:
        pressed = self.query_one("#source", RadioSet).pressed_button
        name = pressed.name if pressed else DOMAINS[0]
        if name == FOLDER:
            return None, self.query_one("#corpus-path", Input).value.strip() or None
        return name, None

    def check_corpus(self) -> None:
        domain, path = self._source()  # read on the UI thread, checked on a worker
        self._check_corpus(domain, path)

    @work(thread=True, exclusive=True, group="corpus")
    def _check_corpus(self, domain: str | None, path: str | None) -> None:
        summary = self.query_one("#corpus-summary", Static)
        if not domain and not path:
            self.app.call_from_thread(summary.update, Text("type a folder path, then Enter", style="italic"))
            self.corpus_ok = False
            return
        self.app.call_from_thread(summary.update, Text("checking…", style="italic"))
        try:
            corpus = backend.load_corpus(BuildSettings(domain=domain, corpus_path=path))
            info = backend.corpus_summary(corpus)
        except Exception as e:  # a UserError names the file and line; anything else is shown as is
            self.corpus_ok = False
            self.app.call_from_thread(summary.update, Text(f"✗ {e}", style="bold red"))
            return
        self.corpus_ok = bool(info["documents"]["count"] or info["qa"]["count"])
        self.app.call_from_thread(summary.update, render_summary(corpus, info))

    # -- runs ------------------------------------------------------------------------------
    def action_refresh_runs(self) -> None:
        from ...runs import Registry

        table = self.query_one("#runs", DataTable)
        table.clear()
        try:
            rows = Registry(self.app.out).list()
        except Exception as e:
            self.notify(f"cannot read the run registry: {e}", severity="error")
            return
        for r in rows:
            # compact, so the row fits 80 columns: "rag ✓ ft ✓ eval ✓"
            stages = " ".join(f"{k} {STAGE_MARKS.get(v, v)}" for k, v in (r.get("stages") or {}).items()) or "-"
            if r.get("damaged"):
                stages = "damaged: no manifest"
            rec = r.get("recommendation")
            rec = rec.get("winner") or "" if isinstance(rec, dict) else (rec or "")
            table.add_row(r["id"], r["corpus"], rec or "-", stages, key=r["path"])

    def _selected_run(self):
        from ...runs import Run

        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            self.notify("no runs yet: build one first", severity="warning")
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return Run.open(self.app.out, key)

    @on(DataTable.RowSelected, "#runs")
    def action_open_run(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        if backend.read_report(run) is not None:
            self.app.open_results(run)
        else:
            self.notify("this run has no report yet: opening chat", timeout=3)
            self.app.open_chat(run)

    def action_chat_run(self) -> None:
        run = self._selected_run()
        if run is not None:
            self.app.open_chat(run)

    # -- build -----------------------------------------------------------------------------
    def read_settings(self) -> BuildSettings:
        """The form as BuildSettings; a bad setting is a ValueError or a UserError (one line)."""
        from ...pipeline import configs

        domain, path = self._source()
        settings = BuildSettings(
            domain=domain, corpus_path=path, device=self.app.device, precision=self.app.precision,
            base_model=self.query_one("#base-model", Input).value, embedding_model=self.query_one("#embedding-model", Input).value,
            approaches=[a for a in BUILDABLE if self.query_one(f"#ap-{a}", Checkbox).value],
            quick=self.query_one("#profile", RadioSet).pressed_button.name == "quick", values=self._given_settings())
        configs(settings.approaches, settings.values, settings.quick)  # the same check as the CLI's
        return settings

    @on(Button.Pressed, "#build")
    def action_build(self) -> None:
        from ...errors import UserError

        try:
            settings = self.read_settings()
        except (ValueError, UserError) as e:
            self.notify(str(e), severity="error")
            return
        if not settings.domain and not settings.corpus_path:
            self.notify("choose a domain or type a corpus folder", severity="error")
            return
        if not settings.approaches:
            self.notify("choose at least one approach to build", severity="error")
            return
        if not self.corpus_ok:
            self.notify("the corpus did not pass its check (see the Corpus panel)", severity="error")
            return
        self.app.start_build(settings)


def render_summary(corpus, info: dict) -> Text:
    """corpus.check_corpus's figures in a few short lines, then each warning."""
    docs, qa, probes = info["documents"], info["qa"], info["probes"]
    t = Text()
    t.append(f"{info.get('title') or info.get('name')}\n", style="bold")
    t.append(f"{docs['count']} documents ({docs['words']['total']} words)\n")
    t.append(f"{qa['count']} Q&A pairs: " + ", ".join(f"{s} {n}" for s, n in qa["splits"].items()) + "\n")
    t.append("test: " + ", ".join(f"{k} {n}" for k, n in qa["test_kinds"].items()) + "\n")
    t.append(f"{probes['count']} bias probes\n" if probes["count"] else "no bias probes\n")
    warnings = info.get("warnings") or []
    for w in warnings[:5]:
        t.append(f"⚠ {w}\n", style="yellow")
    if len(warnings) > 5:
        t.append(f"⚠ … and {len(warnings) - 5} more (assistant corpus check)\n", style="yellow")
    if not warnings:
        t.append("✓ no warnings", style="green")
    return t
