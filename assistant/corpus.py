"""Corpus / Document / QAPair: load a corpus folder, validate it, split it, fingerprint it.

Format: docs/corpus-format.md. Errors are UserErrors naming the file, the line and the field.
"""
from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UserError

CORPORA_DIR = Path(__file__).resolve().parent.parent / "corpora"
DOMAINS = ("legal", "medical", "support")
SPLITS = ("train", "val", "test")
KINDS = ("paraphrase", "unseen", "unanswerable")
UNANSWERABLE = "The documents do not say."


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

    def split(self, name: str) -> list[QAPair]:
        return [q for q in self.qa if q.split == name]

    def doc(self, doc_id: str) -> Document:
        return self._docs_by_id()[doc_id]

    def _docs_by_id(self) -> dict[str, Document]:
        return {d.id: d for d in self.documents}

    @property
    def fingerprint(self) -> str:
        """Content hash of everything that changes what is built or scored."""
        h = hashlib.sha256()
        for part in ([self.system_prompt], sorted((d.id, d.title, d.text) for d in self.documents),
                     [(q.id, q.question, q.answer, q.doc_ids, q.split, q.kind) for q in self.qa], self.probes):
            h.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode())
        return h.hexdigest()[:16]


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise UserError(f"not UTF-8 text (byte {e.start})", path=path, line=line) from None


def _read_markdown(path: Path) -> Document:
    text = _read_text(path)
    meta = {}
    m = _FRONT.match(text)
    if m:
        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as e:
            raise UserError(f"bad front matter: {str(e).splitlines()[0]}", path=path, line=2) from None
        text = text[m.end():]
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    return Document(id=str(meta.get("id") or path.stem), title=str(meta.get("title") or (heading.group(1) if heading else path.stem)),
                    text=text.strip(), source=str(meta.get("source") or ""), path=str(path))


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"malformed JSON: {e.msg} (column {e.colno})", path=path, line=n) from None
        if not isinstance(obj, dict):
            raise UserError("expected a JSON object", path=path, line=n)
        rows.append((n, obj))
    return rows


def load_corpus(path: str | Path) -> Corpus:
    """Load a corpus folder (corpus.toml, docs/ or docs.jsonl, qa.jsonl, probes.jsonl)."""
    root = Path(path)
    if not root.is_dir():
        raise UserError("no such corpus folder", path=root)
    meta = {}
    if (root / "corpus.toml").exists():
        try:
            meta = tomllib.loads(_read_text(root / "corpus.toml"))
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"not valid TOML: {e}", path=root / "corpus.toml") from None
    docs = [_read_markdown(p) for p in sorted((root / "docs").glob("*")) if p.suffix in (".md", ".txt")] if (root / "docs").is_dir() else []
    if (root / "docs.jsonl").exists():
        for n, o in _read_jsonl(root / "docs.jsonl"):
            docs.append(Document(id=str(o.get("id", f"doc{n}")), title=str(o.get("title", "")), text=str(o.get("text", "")), path=str(root / "docs.jsonl")))
    qa = []
    if (root / "qa.jsonl").exists():
        for n, o in _read_jsonl(root / "qa.jsonl"):
            ids = o.get("doc_ids") or ([o["doc_id"]] if o.get("doc_id") else [])
            qa.append(QAPair(id=str(o.get("id", f"q{n}")), question=o.get("question", ""), answer=o.get("answer", ""), doc_ids=list(ids),
                             split=o.get("split"), kind=o.get("kind"), fact_id=o.get("fact_id"), answer_type=o.get("answer_type"),
                             answer_aliases=list(o.get("answer_aliases") or [])))
    probes = [o for _, o in _read_jsonl(root / "probes.jsonl")] if (root / "probes.jsonl").exists() else []
    return Corpus(name=meta.get("name", root.name), title=meta.get("title", root.name), documents=docs, qa=qa, probes=probes,
                  description=meta.get("description", ""), license=meta.get("license", ""),
                  system_prompt=meta.get("system_prompt", ""), root=root)


def resolve_corpus(domain: str | None = None, corpus: str | Path | None = None) -> Corpus:
    """`--domain D` (a shipped corpus) or `--corpus PATH`."""
    if domain and corpus:
        raise UserError("give --domain or --corpus, not both")
    if domain:
        if domain not in DOMAINS:
            raise UserError(f"unknown domain '{domain}': choose one of {', '.join(DOMAINS)}")
        return load_corpus(CORPORA_DIR / domain)
    if corpus:
        return load_corpus(corpus)
    raise UserError("name a corpus: --domain legal|medical|support or --corpus PATH")
