"""oracle: the RAG reader given each question's gold documents instead of what the retriever
found. Not an assistant to deploy (no real question comes with its answer's documents): an upper
bound, evaluated beside the others and never recommended, that tells a reader that cannot read
from a retriever that cannot find ("retrieval finds the gold document 92% of the time, and given
it, the model reads it right 31% of the time")."""
from __future__ import annotations

import time

from ..assistants import GoldAssistant
from ..config import NoConfig
from ..events import no_events
from ..files import read_json, write_json
from ..llm import DEFAULT_PRECISION, load_llm
from ..rag import load_index
from . import Approach, register

GOLD_FILE = "gold.json"


class Config(NoConfig):
    """Nothing to set: it reads with the rag index's settings (context, top_k)."""


def build(run, corpus, config: Config, *, device="auto", precision=DEFAULT_PRECISION, events=no_events, cancel=None,
          resume=False) -> dict:
    """What it needs beside rag's index: which documents answer each question of the corpus."""
    with run.running("oracle"):
        t0 = time.perf_counter()
        gold = {q.question: list(q.doc_ids) for q in corpus.qa if q.doc_ids}
        write_json(run.dir("oracle") / GOLD_FILE, gold)
        run.set_stage("oracle", "running", questions=len(gold), build_s=round(time.perf_counter() - t0, 3))
    return dict(run.stage("oracle"))


def describe(stage: dict) -> list[str]:
    return [f"oracle: the gold documents of {stage.get('questions', 0)} questions, read through rag's index"]


def load(run, *, device="auto", precision=DEFAULT_PRECISION, max_new_tokens=64):
    gold = read_json(run.dir("oracle") / GOLD_FILE)
    llm = load_llm(run.base_model, device=device, precision=precision)
    return GoldAssistant("oracle", llm, run.manifest.get("system_prompt", ""), max_new_tokens,
                         index=load_index(run, device), gold=gold)


def facts(run, device="auto") -> dict:
    return {"build_s": run.stage("oracle").get("build_s", 0.0), "size_mb": 0.0, "update_s": None,
            "update_how": "an upper bound: it is handed each question's gold documents, which no deployed "
                          "assistant has", "bound": True}


APPROACH = register(Approach("oracle", "Oracle reader (upper bound)", "the RAG reader handed each question's gold "
                             "documents: what retrieval could give at best; never recommended", Config, build, load,
                             facts, requires=("rag",), describe=describe, bound=True))
