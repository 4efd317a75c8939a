"""The Assistant protocol and its implementations.

The harness (evals/) knows only this protocol: a `name`, `answer(questions)` for many questions
at once, and `option_scores(questions, options)` for closed-form items and bias probes. How the
assistant was built (nothing, a LoRA adapter, a FAISS index, both) stays behind it.

  ClosedBookAssistant   the model alone: base, or ft (with a LoRA adapter)
  RetrievalAssistant    the model with retrieved, numbered sources: rag, or hybrid (RAFT adapter)

Which approach makes which assistant is in approaches/.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Iterator, Protocol, runtime_checkable

from .llm import CHAT_BATCH, DEFAULT_PRECISION
from .rag import first_line

@dataclass
class Context:
    """A retrieved chunk, as the answer used it."""

    doc_id: str
    title: str
    text: str
    score: float
    chunk_id: int = -1


@dataclass
class Answer:
    text: str
    contexts: list[Context] = field(default_factory=list)  # empty for base and ft
    latency_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Assistant(Protocol):
    name: str

    def answer(self, questions: list[str]) -> list[Answer]:
        """Answer many questions at once (batched generation)."""
        ...

    def option_scores(self, questions: list[str], options: list[list[str]]) -> list[list[float]]:
        """For each question, the log-likelihood of each of its options as the answer, after this
        assistant's own prompt (with its retrieved context, for retrieval assistants); batched."""
        ...


@dataclass
class ClosedBookAssistant:
    """Answers from the model's weights alone: `base`, or `ft` when the LLM carries an adapter."""

    name: str
    llm: object
    system_prompt: str = ""
    max_new_tokens: int = 64
    batch_size: int = CHAT_BATCH

    def prepare(self, question: str) -> tuple[str, list[Context]]:
        return self.llm.chat_prompt(question, self.system_prompt or None), []

    def answer(self, questions: list[str]) -> list[Answer]:
        gens = self.llm.generate(self.prompts(questions), max_new_tokens=self.max_new_tokens, batch_size=self.batch_size)
        return [Answer(g.text, [], g.latency_s) for g in gens]

    def prompts(self, questions: list[str]) -> list[str]:
        """Each question's whole prompt, as the model reads it."""
        return [self.prepare(q)[0] for q in questions]

    def option_scores(self, questions: list[str], options: list[list[str]]) -> list[list[float]]:
        scored = self.llm.option_logprobs(self.prompts(questions), options, batch_size=self.batch_size)
        return [[lp for lp, _ in row] for row in scored]

    def stream(self, question: str) -> tuple[Iterator[str], list[Context]]:
        prompt, contexts = self.prepare(question)
        return self.llm.stream(prompt, self.max_new_tokens), contexts


@dataclass
class RetrievalAssistant(ClosedBookAssistant):
    """Retrieves numbered sources, then answers from them with citations: `rag` and `hybrid`."""

    index: object = None
    # prompts of a few hundred tokens: their prefill runs the matmuls near the CPU's peak at 8
    # rows already, and more rows only add padding (rag on support's val: 3.1 questions/s at 8,
    # 2.4 at 32)
    batch_size: int = 8
    top_k: int | None = None
    retrieval: str | None = None
    context: str | None = None  # chunks | focused; None: the index's own setting
    prompt_format: str | None = None  # chat | completion; None: the index's own setting

    @property
    def completes(self) -> bool:
        """A plain completion prompt: the answer is its first line."""
        return (self.prompt_format or self.index.config.prompt_format) == "completion"

    def _contexts(self, hits) -> list[Context]:
        return [Context(h.chunk.doc_id, h.chunk.title, h.chunk.text, float(h.score), h.chunk.chunk_id) for h in hits]

    def retrieve(self, questions: list[str]) -> list[list]:
        """The hits each question is answered from."""
        return self.index.search_many(questions, k=self.top_k, mode=self.retrieval)

    def prepare(self, question: str, hits=None) -> tuple[str, list[Context]]:
        from .rag import rag_prompt_and_sources

        if hits is None:
            hits = self.retrieve([question])[0]
        config = self.index.config
        prompt, shown = rag_prompt_and_sources(self.llm, question, hits, system_prompt=self.system_prompt,
                                               context_tokens=config.context_tokens,
                                               context=self.context or config.context, focus_tokens=config.focus_tokens,
                                               prompt_format=self.prompt_format or config.prompt_format)
        return prompt, self._contexts(shown)  # the sources the model was shown, numbered as in the prompt

    def prepare_many(self, questions: list[str]) -> list[tuple[str, list[Context]]]:
        """prepare() for many questions, their sources retrieved in one batch."""
        return [self.prepare(q, hits) for q, hits in zip(questions, self.retrieve(questions))]

    def prompts(self, questions: list[str]) -> list[str]:
        return [prompt for prompt, _ in self.prepare_many(questions)]

    def answer(self, questions: list[str]) -> list[Answer]:
        t0 = time.perf_counter()
        prepared = self.prepare_many(questions)
        prepare_s = (time.perf_counter() - t0) / max(len(questions), 1)  # retrieval and prompt, per question
        gens = self.llm.generate([p for p, _ in prepared], max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                 first_line=self.completes)
        cut = first_line if self.completes else (lambda text: text)
        return [Answer(cut(g.text), ctx, g.latency_s + prepare_s) for g, (_, ctx) in zip(gens, prepared)]

    def stream(self, question: str) -> tuple[Iterator[str], list[Context]]:
        pieces, contexts = super().stream(question)
        return (_until_line_break(pieces) if self.completes else pieces), contexts


def _until_line_break(pieces: Iterator[str]) -> Iterator[str]:
    """A streamed completion up to its first line break (after some text): the answer."""
    said = ""
    for piece in pieces:
        if "\n" in piece and said.strip():
            yield piece.split("\n", 1)[0]
            return
        said += piece
        yield piece


@dataclass
class GoldAssistant(RetrievalAssistant):
    """The RAG reader given each question's gold documents instead of what the retriever found
    (their chunks, best first by the retriever's own score among them): `oracle`, the most
    retrieval could give this reader. A question with no gold document (unanswerable, or not
    from the corpus) is retrieved for as usual."""

    gold: dict[str, list[str]] = field(default_factory=dict)  # question -> its documents

    def retrieve(self, questions: list[str]) -> list[list]:
        k = self.top_k or self.index.config.top_k
        out = []
        for question, hits in zip(questions, super().retrieve(questions)):
            docs = set(self.gold.get(question) or ())
            if docs:
                ranked = self.index.search(question, k=len(self.index), mode=self.retrieval)
                hits = [h for h in ranked if h.chunk.doc_id in docs][:k]
            out.append(hits)
        return out


def load_assistant(run, approach: str, device: str = "auto", max_new_tokens: int = 64,
                   precision: str = DEFAULT_PRECISION) -> Assistant:
    """Rebuild one approach's assistant from a run folder (models named in its manifest)."""
    from . import approaches

    return approaches.get(approach).load(run, device=device, precision=precision, max_new_tokens=max_new_tokens)
