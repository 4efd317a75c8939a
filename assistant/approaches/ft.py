"""ft: a LoRA adapter trained on the train split of the Q&A pairs (and, with `train_on`, on the
documents' text); answers from the weights alone."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from ..assistants import ClosedBookAssistant
from ..config import FORM
from ..events import no_events
from ..finetune import (DocumentExamples, FinetuneConfig, QAExamples, adapter_facts, adapter_folder, build_adapter,
                        summary_lines)
from ..llm import DEFAULT_PRECISION, load_llm
from . import Approach, register


class Config(FinetuneConfig):
    """The LoRA builder's settings (finetune.FinetuneConfig), and what the adapter reads.

    `train_on`: the Q&A pairs (qa), the documents' text as plain passages (docs: continued
    pre-training, so an adapter can meet the facts RAG reads, not only those the pairs teach), or
    both mixed in one training set (docs+qa). The quick profile trains on a seeded sample of
    passages, those of the documents the test split asks about first, as it does with pairs.
    """

    QUICK: ClassVar[dict] = {**FinetuneConfig.QUICK, "max_doc_passages": 48}

    train_on: Literal["qa", "docs", "docs+qa"] = Field("qa", description="what the adapter trains on: the Q&A "
                                                       "pairs, the documents' text, or both", json_schema_extra=FORM)
    max_doc_passages: int | None = Field(None, ge=1, description="with train_on docs: a seeded sample of this many "
                                         "document passages (quick demos)")


def documents_for(corpus, config: Config) -> DocumentExamples | None:
    if config.train_on == "qa":
        return None
    tested = frozenset(d for q in corpus.split("test") for d in q.doc_ids)
    # a passage leaves room for nothing else: the whole example is the passage
    return DocumentExamples(corpus.documents, max_tokens=config.max_length - 8, cap=config.max_doc_passages,
                            first=tested, seed=config.seed)


def build(run, corpus, config: Config, *, device="auto", precision=DEFAULT_PRECISION, events=no_events, cancel=None,
          resume=False) -> dict:
    return build_adapter(run, corpus, config, approach="ft", device=device, precision=precision, events=events,
                         cancel=cancel, resume=resume, examples=QAExamples(corpus.system_prompt),
                         documents=documents_for(corpus, config), train_qa=config.train_on != "docs",
                         # the validation loss is on Q&A pairs: reading the documents alone is not
                         # stopped by it (it is still logged)
                         early_stopping=config.train_on != "docs")


def load(run, *, device="auto", precision=DEFAULT_PRECISION, max_new_tokens=64):
    llm = load_llm(run.base_model, device=device, adapter=str(adapter_folder(run, "ft")), precision=precision)
    return ClosedBookAssistant("ft", llm, run.manifest.get("system_prompt", ""), max_new_tokens)


def facts(run, device="auto") -> dict:
    return adapter_facts(run, "ft")


APPROACH = register(Approach("ft", "Fine-tuning (LoRA)", "a LoRA adapter trained on the Q&A pairs (or the documents)",
                             Config, build, load, facts, trains=True, describe=summary_lines))
