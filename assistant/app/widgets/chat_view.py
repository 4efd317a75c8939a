"""Chat pieces: one turn (question and streamed answer) and the table of its sources."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static


class AnswerBox(Static):
    """An answer that grows as pieces stream in."""

    def __init__(self, title: str, **kw):
        super().__init__("…", **kw)
        self.border_title = title
        self.text = ""
        self.pieces = 0  # how many streamed pieces arrived

    def append(self, piece: str) -> None:
        self.text += piece
        self.pieces += 1
        self.update(self.text.strip() or "…")

    def done(self) -> None:
        if not self.text.strip():
            self.update("(empty answer)")


class SourcesTable(DataTable):
    """The chunks an answer used: document, chunk, score."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("#", "document", "chunk", "score")

    def show(self, contexts) -> None:
        self.clear()
        for i, c in enumerate(contexts, 1):
            self.add_row(str(i), c.title or c.doc_id, str(c.chunk_id), f"{c.score:.3f}")


class Turn(Vertical):
    """One question and the answer of each approach asked (one, or all of them in compare)."""

    def __init__(self, question: str, approaches: list[str], **kw):
        super().__init__(**kw)
        self.question = question
        self.approaches = approaches
        self.contexts: dict[str, list] = {}

    def compose(self) -> ComposeResult:
        yield Static(f"› {self.question}", classes="question")
        with Vertical(classes="answers") if len(self.approaches) == 1 else _row():
            for a in self.approaches:
                yield AnswerBox(a, id=f"answer-{a}", classes="answer")

    def box(self, approach: str) -> AnswerBox:
        return self.query_one(f"#answer-{approach}", AnswerBox)


def _row():
    from textual.containers import Horizontal

    return Horizontal(classes="answers compare")
