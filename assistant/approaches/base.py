"""base: nothing is built; the base model answers alone. The reference every approach is measured against."""
from __future__ import annotations

from ..assistants import ClosedBookAssistant
from ..config import NoConfig
from ..events import no_events
from ..llm import DEFAULT_PRECISION, load_llm
from . import Approach, register


class Config(NoConfig):
    """Nothing to set: the base model is used as it is."""


def build(run, corpus, config: Config, *, device="auto", precision=DEFAULT_PRECISION, events=no_events, cancel=None,
          resume=False) -> dict:
    return {}


def load(run, *, device="auto", precision=DEFAULT_PRECISION, max_new_tokens=64):
    llm = load_llm(run.base_model, device=device, precision=precision)
    return ClosedBookAssistant("base", llm, run.manifest.get("system_prompt", ""), max_new_tokens)


def facts(run, device="auto") -> dict:
    return {"build_s": 0.0, "size_mb": 0.0, "update_s": None, "update_how": "the base model takes in no documents"}


APPROACH = register(Approach("base", "Base model", "the base model alone (the reference)", Config, build, load, facts,
                             builds=False))
