"""What a corpus is: Document, QAPair, Corpus (with its fingerprint), corpus.toml's CorpusMeta,
and the fixed vocabularies of the format (splits, kinds, answer types, the unanswerable answer)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict


CORPORA_DIR = Path(__file__).resolve().parents[2] / "corpora"
DOMAINS = ("legal", "medical", "support")
SPLITS = ("train", "val", "test")
KINDS = ("paraphrase", "unseen", "unanswerable")
ANSWER_TYPES = ("short", "long", "yes/no", "yes/no/maybe")
UNANSWERABLE = "The documents do not say."
SENTENCE_WORDS = 8  # a "short" answer this long is a sentence: exact match would fail every paraphrase of it


def answer_form(answer_type: str | None, aliases: list[str], answer: str) -> str | None:
    """The form an answer is scored in: its label, except that a "short" answer of SENTENCE_WORDS
    words or more is a "sentence" (labelled short, scored as a sentence), and an unlabelled
    answer with aliases is short when it is short enough."""
    labelled_short = answer_type == "short" or (answer_type is None and bool(aliases))
    if labelled_short:
        return "short" if len(answer.split()) < SENTENCE_WORDS else "sentence"
    return answer_type


@dataclass
class Document:
    id: str
    title: str
    text: str
    source: str = ""
    path: str = ""


@dataclass
class QAPair:
    id: str
    question: str
    answer: str
    doc_ids: list[str] = field(default_factory=list)
    split: str | None = None
    kind: str | None = None
    fact_id: str | None = None
    answer_type: str | None = None
    answer_aliases: list[str] = field(default_factory=list)


@dataclass
class Corpus:
    name: str
    title: str
    documents: list[Document]
    qa: list[QAPair]
    probes: list[dict] = field(default_factory=list)
    description: str = ""
    license: str = ""
    system_prompt: str = ""
    root: Path | None = None
    warnings: list[str] = field(default_factory=list)
    formats: dict[str, dict[str, int]] = field(default_factory=dict)  # file -> {detected format: records}
    split_seed: int = 0
    seeded: int = 0  # how many pairs had no `split` and got the seeded one
    sources: list[str] = field(default_factory=list)  # what was loaded: load_corpus(*sources) loads it again

    def split(self, name: str) -> list[QAPair]:
        return [q for q in self.qa if q.split == name]

    def doc(self, doc_id: str) -> Document:
        return self._docs_by_id()[doc_id]

    def _docs_by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    @property
    def fingerprint(self) -> str:
        """Content hash of everything that changes what is built or scored. Sorted, so it does not
        depend on the order of files or lines, and free of paths, so not on where the folder lies."""
        h = hashlib.sha256()
        qa = sorted(((q.id, q.question, q.answer, q.doc_ids, q.split, q.kind, q.fact_id, q.answer_type, q.answer_aliases)
                     for q in self.qa), key=lambda row: row[0])
        probes = sorted(json.dumps(p, sort_keys=True, ensure_ascii=False) for p in self.probes)
        for part in ([self.system_prompt], sorted((d.id, d.title, d.text) for d in self.documents), qa, probes):
            h.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()[:16]


class CorpusMeta(BaseModel):
    """corpus.toml. Unknown keys are allowed (a corpus may carry its own notes) but reported."""
    model_config = ConfigDict(extra="allow")

    name: str = ""
    title: str = ""
    description: str = ""
    license: str = ""
    system_prompt: str = ""
    split_seed: int = 0  # seed of the split for pairs with no `split`
