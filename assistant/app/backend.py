"""What the terminal app calls: the corpus check, the builders, the evaluation, the assistants.

The app only shows what these return. All functions here block: the screens call them from
thread workers.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..llm import DEFAULT_PRECISION

class Cancelled(Exception):
    """The person pressed cancel; raised inside a builder's callback to stop it."""


@dataclass
class BuildSettings:
    """The Home form. Empty model names mean the embedded defaults."""

    domain: str | None = "support"
    corpus_path: str | None = None
    base_model: str = ""
    embedding_model: str = ""
    approaches: list[str] = field(default_factory=lambda: ["ft", "rag"])
    quick: bool = True
    lora_rank: int = 8
    epochs: int = 3
    max_steps: int | None = None  # caps training; the quick profile sets one
    top_k: int = 3
    chunk_tokens: int = 200
    retrieval: str = "hybrid"
    device: str = "auto"
    precision: str = DEFAULT_PRECISION

    @property
    def base(self) -> str | None:
        return self.base_model.strip() or None

    @property
    def embedding(self) -> str | None:
        return self.embedding_model.strip() or None

    def corpus_label(self) -> str:
        return self.domain or self.corpus_path or "?"


# -- corpus -------------------------------------------------------------------------------
def load_corpus(settings: BuildSettings):
    from ..corpus import resolve_corpus

    return resolve_corpus(settings.domain, settings.corpus_path)


def corpus_summary(corpus) -> dict:
    """corpus.check_corpus: counts (documents, Q&A per split and kind, probes) and warnings."""
    from ..corpus import check_corpus

    return check_corpus(corpus)


# -- builds -------------------------------------------------------------------------------
def create_run(out: str | Path, corpus, settings: BuildSettings):
    from ..runs import Run

    config = {"quick": settings.quick, "lora_rank": settings.lora_rank, "epochs": settings.epochs, "max_steps": settings.max_steps,
              "top_k": settings.top_k, "retrieval": settings.retrieval, "chunk_tokens": settings.chunk_tokens, "device": settings.device,
              "precision": settings.precision,
              "domain": settings.domain, "corpus": settings.corpus_path}
    return Run.create(out, corpus=corpus, config=config, approaches=list(settings.approaches), command="tui build",
                      base_model=settings.base, embedding_model=settings.embedding)


def rag_config(settings: BuildSettings):
    from ..rag import rag_config

    values = {"top_k": settings.top_k, "retrieval": settings.retrieval, "chunk_tokens": settings.chunk_tokens,
              "chunk_overlap": min(40, settings.chunk_tokens // 4)}
    return rag_config(values, quick=settings.quick)


def finetune_config(settings: BuildSettings, approach: str = "ft"):
    from ..finetune import finetune_config

    return finetune_config({"rank": settings.lora_rank, "epochs": settings.epochs, "max_steps": settings.max_steps,
                            "precision": settings.precision},
                           quick=settings.quick, approach=approach)


def build_rag(run, corpus, settings: BuildSettings, progress: Callable[[int, int, str], None],
              cancel: threading.Event):
    """Build the index; the progress callback raises Cancelled once cancel is set."""
    from ..rag import build_index

    def on_progress(done, total, message=""):
        if cancel.is_set():
            raise Cancelled()
        progress(done, total, message)

    return build_index(run, corpus, rag_config(settings), device=settings.device, progress=on_progress)


def build_adapter(run, corpus, settings: BuildSettings, approach: str, on_progress: Callable[[object], None],
                  cancel: threading.Event):
    """Train the adapter; `on_progress` hears finetune.TrainingProgress (step, loss, val_loss, ETA).
    Setting `cancel` stops after the current step: the builder raises TrainingInterrupted."""
    from ..finetune import build_adapter, raft_examples

    class Listener:
        def on_progress(self, p) -> None:
            on_progress(p)

    examples = raft_examples(run, corpus, device=settings.device) if approach == "hybrid" else None
    return build_adapter(run, corpus, finetune_config(settings, approach), approach=approach, device=settings.device,
                      callbacks=[Listener()], cancel=cancel, examples=examples)


def evaluate(run, corpus, settings: BuildSettings, built: list[str], progress: Callable[[str], None],
             cancel: threading.Event | None = None) -> dict:
    """The shared harness on `base` (the reference) and every approach built; writes the reports.

    Once `cancel` is set, the next progress report raises Cancelled: the harness reports between
    its steps, so the step under way finishes first."""
    from ..pipeline import evaluate_run

    approaches = ["base"] + [a for a in ("ft", "rag", "hybrid") if a in built]

    def on_progress(message: str) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        progress(message)

    return evaluate_run(run, corpus, approaches, quick=settings.quick, device=settings.device, progress=on_progress,
                        precision=settings.precision)


# -- results and chat ---------------------------------------------------------------------
def read_report(run) -> dict | None:
    from ..files import read_json

    path = Path(run.path) / "report.json"
    return read_json(path) if path.exists() else None


def built_approaches(run) -> list[str]:
    """Approaches a person can chat with in this run: base always, the others once built."""
    stages = run.manifest.get("stages", {})
    out = ["base"]
    for name in ("ft", "rag", "hybrid"):
        if stages.get(name, {}).get("status") == "done":
            out.append(name)
    return out


_assistants: dict[tuple[str, str], object] = {}
_assistants_lock = threading.Lock()


def get_assistant(run, approach: str, device: str = "auto", precision: str = DEFAULT_PRECISION):
    """Load an approach's assistant once per session (model loading takes seconds)."""
    from ..assistants import load_assistant

    key = (str(Path(run.path).resolve()), approach)
    with _assistants_lock:
        if key not in _assistants:
            _assistants[key] = load_assistant(run, approach, device=device, max_new_tokens=128, precision=precision)
        return _assistants[key]
