"""Chat pieces: one turn, a question and the streamed answer of each approach asked."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static


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


class Turn(Vertical):
    """One question and the answer of each approach asked (one, or all of them in compare)."""

    def __init__(self, question: str, approaches: list[str], **kw):
        super().__init__(**kw)
        self.question = question
        self.approaches = approaches

    def compose(self) -> ComposeResult:
        yield Static(f"› {self.question}", classes="question")
        with Horizontal(classes="answers compare") if len(self.approaches) > 1 else Vertical(classes="answers"):
            for a in self.approaches:
                yield AnswerBox(a, id=f"answer-{a}", classes="answer")

    def box(self, approach: str) -> AnswerBox:
        return self.query_one(f"#answer-{approach}", AnswerBox)

