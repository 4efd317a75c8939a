"""ft: a LoRA adapter trained on the train split of the Q&A pairs; answers from the weights alone."""
from __future__ import annotations

from ..assistants import ClosedBookAssistant
from ..events import no_events
from ..finetune import FinetuneConfig, QAExamples, adapter_facts, adapter_folder, build_adapter, summary_lines
from ..llm import DEFAULT_PRECISION, load_llm
from . import Approach, register


class Config(FinetuneConfig):
    """The LoRA builder's settings, as they are (finetune.FinetuneConfig)."""


def build(run, corpus, config: Config, *, device="auto", precision=DEFAULT_PRECISION, events=no_events, cancel=None,
          resume=False) -> dict:
    return build_adapter(run, corpus, config, approach="ft", device=device, precision=precision, events=events,
                         cancel=cancel, resume=resume, examples=QAExamples(corpus.system_prompt))


def load(run, *, device="auto", precision=DEFAULT_PRECISION, max_new_tokens=64):
    llm = load_llm(run.base_model, device=device, adapter=str(adapter_folder(run, "ft")), precision=precision)
    return ClosedBookAssistant("ft", llm, run.manifest.get("system_prompt", ""), max_new_tokens)


def facts(run, device="auto") -> dict:
    return adapter_facts(run, "ft")


APPROACH = register(Approach("ft", "Fine-tuning (LoRA)", "a LoRA adapter trained on the Q&A pairs", Config, build,
                             load, facts, trains=True, describe=summary_lines))
