"""Chat: ask one approach (or all of them side by side), answers stream in, sources beside them."""
from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select, Static

from .. import backend
from ..widgets.chat_view import Turn

COMPARE = "compare"


class ChatScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.go_home", "Home"),
        Binding("ctrl+r", "results", "Results"),
        Binding("ctrl+l", "focus_question", "Question", show=False),
    ]

    def __init__(self, run, approach: str | None = None, **kw):
        super().__init__(**kw)
        self.current_run = run
        self.approaches = backend.built_approaches(run)
        self.initial = approach if approach in self.approaches else self.approaches[-1]
        self.busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="chat-bar"):
            yield Label("approach ")
            options = [(a, a) for a in self.approaches] + ([("compare all", COMPARE)] if len(self.approaches) > 1 else [])
            yield Select(options, value=self.initial, allow_blank=False, id="approach", compact=True)
            yield Label("  Enter: ask · compare all: every approach side by side", id="chat-run")
        with Horizontal(id="chat-main"):
            yield VerticalScroll(id="turns")
            with Vertical(id="sources-box", classes="box") as box:
                box.border_title = "Sources"
                yield DataTable(id="sources", cursor_type="row", zebra_stripes=True)
                yield Static("", id="source-text")
        yield Input(placeholder="Ask a question and press Enter", id="question")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"chat · {self.current_run.manifest['corpus']['name']}"
        self.query_one("#sources", DataTable).add_columns("score", "from", "chunk", "document")
        self.contexts: list[tuple[str, object]] = []
        for question, answers in self.history():  # earlier turns of this session
            turn = Turn(question, list(answers))
            self.query_one("#turns").mount(turn)
            turn.call_after_refresh(self._fill_turn, turn, answers)
        self.query_one("#question", Input).focus()

    def _fill_turn(self, turn: Turn, answers: dict) -> None:
        for approach, (text, contexts) in answers.items():
            box = turn.box(approach)
            box.append(text)
            box.done()
            self._add_sources(approach, contexts)

    def history(self) -> list:
        return self.app.chat_history.setdefault(self.current_run.id, [])

    def action_focus_question(self) -> None:
        self.query_one("#question", Input).focus()

    def action_results(self) -> None:
        if backend.read_report(self.current_run) is None:
            self.notify("this run has no report yet", severity="warning")
            return
        self.app.open_results(self.current_run)

    # -- sources ----------------------------------------------------------------------------
    def _clear_sources(self) -> None:
        self.contexts = []
        self.query_one("#sources", DataTable).clear()
        self.query_one("#source-text", Static).update("")

    def _add_sources(self, approach: str, contexts) -> None:
        table = self.query_one("#sources", DataTable)
        for c in contexts:
            self.contexts.append((approach, c))
            # The long title goes last, so a narrow terminal cuts the title, not the score.
            table.add_row(f"{c.score:.3f}", approach, str(c.chunk_id), c.title or c.doc_id)
        if not contexts and approach in ("base", "ft"):
            self.query_one("#source-text", Static).update(Text(f"{approach} answers from its weights alone: no sources", style="italic"))

    @on(DataTable.RowHighlighted, "#sources")
    def _show_source(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.contexts):
            approach, c = self.contexts[event.cursor_row]
            t = Text()
            t.append(f"{c.title or c.doc_id} ({c.doc_id}, chunk {c.chunk_id})\n", style="bold")
            t.append(c.text)
            self.query_one("#source-text", Static).update(t)

    # -- asking -----------------------------------------------------------------------------
    @on(Input.Submitted, "#question")
    async def ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        if not question:
            return
        if self.busy:
            self.notify("still answering the last question", severity="warning")
            return
        choice = self.query_one("#approach", Select).value
        approaches = [a for a in self.approaches] if choice == COMPARE else [choice]
        event.input.value = ""
        self._clear_sources()
        turn = Turn(question, approaches)
        turns = self.query_one("#turns")
        await turns.mount(turn)
        turns.scroll_end(animate=False)
        self.busy = True
        self.answer({a: turn.box(a) for a in approaches}, turns, question)

    @work(thread=True, group="chat")
    def answer(self, boxes: dict, turns: VerticalScroll, question: str) -> None:
        call = self.app.call_from_thread
        answers: dict[str, tuple[str, list]] = {}
        for approach, box in boxes.items():  # one after another: they share the cores
            try:
                call(box.update, Text(f"loading {approach}…", style="italic"))
                assistant = backend.get_assistant(self.current_run, approach, device=self.app.device,
                                                  precision=self.app.precision)
                pieces, contexts = assistant.stream(question)
                call(box.update, "…")
                call(self._add_sources, approach, contexts)
                for piece in pieces:
                    call(box.append, piece)
                    call(turns.scroll_end, animate=False)
                call(box.done)
                answers[approach] = (box.text, contexts)
            except Exception as e:
                call(box.update, Text(f"✗ {str(e).splitlines()[0] if str(e) else type(e).__name__}", style="bold red"))
        self.history().append((question, answers))
        call(setattr, self, "busy", False)
