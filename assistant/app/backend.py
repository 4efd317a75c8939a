"""What the terminal app calls: the corpus check, the builders, the evaluation, the assistants.

The app only shows what these return. All functions here block: the screens call them from
thread workers.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..events import Events
from ..llm import DEFAULT_PRECISION
from ..pipeline import DEFAULT_APPROACHES


@dataclass
class BuildSettings:
    """The Home form. Empty model names mean the embedded defaults; `values` holds the settings
    the person changed (every other setting is its approach's own default in the profile)."""

    domain: str | None = "support"
    corpus_path: str | None = None
    base_model: str = ""
    embedding_model: str = ""
    approaches: list[str] = field(default_factory=lambda: [a for a in DEFAULT_APPROACHES if a != "base"])
    quick: bool = True
    values: dict = field(default_factory=dict)
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


# -- builds and evaluation: the pipeline's, with the screen's events and cancel token ---------
def create_run(out: str | Path, corpus, settings: BuildSettings):
    from ..pipeline import check_models
    from ..runs import Run

    check_models(settings.base, settings.embedding)  # a bad model fails before a run is made for it
    config = {"quick": settings.quick, **settings.values, "device": settings.device, "precision": settings.precision,
              "domain": settings.domain, "corpus": settings.corpus_path}
    return Run.create(out, corpus=corpus, config=config, approaches=list(settings.approaches), command="tui build",
                      base_model=settings.base, embedding_model=settings.embedding)


def build(run, corpus, settings: BuildSettings, approach: str, events: Events, cancel: threading.Event) -> dict:
    """Build one approach (its requirements are built already: the screen goes in build order)."""
    from ..pipeline import build

    return build(run, corpus, [approach], settings.values, quick=settings.quick, device=settings.device,
                 precision=settings.precision, events=events, cancel=cancel).get(approach, {})


def evaluate(run, corpus, settings: BuildSettings, built: list[str], events: Events,
             cancel: threading.Event | None = None) -> dict:
    """The shared harness on `base` (the reference) and every approach built; writes the reports.
    A set `cancel` stops at the harness's next step (the step under way finishes first)."""
    from ..pipeline import evaluate_run

    return evaluate_run(run, corpus, ["base"] + built, quick=settings.quick, device=settings.device, events=events,
                        cancel=cancel, precision=settings.precision)


# -- results and chat ---------------------------------------------------------------------
def read_report(run) -> dict | None:
    from ..files import read_json

    path = Path(run.path) / "report.json"
    return read_json(path) if path.exists() else None


def built_approaches(run) -> list[str]:
    """Approaches a person can chat with in this run: base always, the others once built."""
    from .. import approaches as registry

    return [name for name in registry.names()
            if not registry.get(name).builds or run.stage(name).get("status") == "done"]


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
