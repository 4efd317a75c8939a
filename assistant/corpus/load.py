"""Loading a corpus: a folder or files, validated (a UserError names the file, line and field of the
first problem), split (the seeded split for pairs with no `split`), and resolved from --domain or --corpus."""
from __future__ import annotations

import hashlib
import re
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from pydantic import ValidationError

from ..errors import UserError
from ..text import tokens
from .model import CORPORA_DIR, DOMAINS, UNANSWERABLE, Corpus, CorpusMeta, Document, QAPair
from .probes import read_probes
from .qa_formats import QARecord, read_qa
from .quality import quality_warnings
from .readers import DOC_READERS, DOC_TYPES, docs_from_folder, docs_from_jsonl
from .rows import check_inside, clean_id, read_json_array, read_jsonl, read_text


SPLIT_SHARES = (("train", 0.6), ("val", 0.1), ("test", 0.3))  # the seeded split, for pairs with no `split`
MIN_PAIRS = 10             # fewer cannot make a train, a val and a test split worth the name
QA_FILES = ("qa.jsonl", "qa.json", "qa.csv")


def seeded_split(key: str, seed: int = 0) -> str:
    """train / val / test, about 60/10/30, from a hash of the pair's key and the seed: the same
    pair always lands in the same split, and adding or removing a pair moves no other pair."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    for name, share in SPLIT_SHARES:
        if u < share:
            return name
        u -= share
    return SPLIT_SHARES[-1][0]


def _classify(path: Path) -> str:
    """What a file given on its own holds: 'documents', 'qa' or 'probes' (by name, then content)."""
    name, suffix = path.name.lower(), path.suffix.lower()
    if suffix in DOC_TYPES:
        return "document"
    if suffix == ".csv" or name.startswith("qa."):
        return "qa"
    if name.startswith("docs."):
        return "documents"
    if name.startswith("probes."):
        return "probes"
    if suffix in (".jsonl", ".json"):
        rows = read_json_array(path) if suffix == ".json" else read_jsonl(path)
        first = rows[0][1] if rows else {}
        if {"context", "ans0", "label"} <= first.keys():
            return "probes"
        if "text" in first and not {"question", "answer", "instruction", "conversations", "messages"} & first.keys():
            return "documents"
        return "qa"
    raise UserError("not a corpus file: give a folder, a docs.jsonl, a Q&A file (.jsonl, .json, .csv) or documents",
                    path=path)


def load_corpus(path: str | Path, *more: str | Path, seed: int | None = None) -> Corpus:
    """Load a corpus: a folder (corpus.toml, docs/ or docs.jsonl, qa.jsonl|qa.json|qa.csv,
    probes.jsonl), or files given one by one (a docs.jsonl and a Q&A file, optionally probes.jsonl
    and single documents). Validates everything, splits pairs that have no split, and raises a
    UserError naming the file, line and field of the first problem."""
    paths = [Path(p) for p in (path, *more)]
    for p in paths:
        if not p.exists():
            raise UserError("no such file or folder", path=p)
    warnings: list[str] = []
    formats: dict[str, Counter] = defaultdict(Counter)
    docs: list[tuple[Document, int]] = []
    records: list[QARecord] = []
    probes: list[dict] = []
    meta = CorpusMeta()
    qa_files: list[Path] = []

    if len(paths) == 1 and paths[0].is_dir():
        root = paths[0]
        for name in ("corpus.toml", "docs", "docs.jsonl", *QA_FILES, "probes.jsonl"):
            if (root / name).exists() or (root / name).is_symlink():
                check_inside(root / name, root)
        if (root / "corpus.toml").exists():
            meta = _read_meta(root / "corpus.toml", warnings)
        if (root / "docs").is_dir():
            docs += docs_from_folder(root / "docs", root, formats["docs/"], warnings)
        if (root / "docs.jsonl").exists():
            docs += docs_from_jsonl(root / "docs.jsonl", read_jsonl(root / "docs.jsonl"))
            formats["docs.jsonl"]["docs-jsonl"] += len(docs) - sum(formats["docs/"].values())
        qa_files = [root / n for n in QA_FILES if (root / n).exists()]
        if len(qa_files) > 1:
            raise UserError(f"several Q&A files ({', '.join(p.name for p in qa_files)}): keep one", path=root)
        if (root / "probes.jsonl").exists():
            probes = read_probes(root / "probes.jsonl")
        if not docs:
            raise UserError("no documents: expected docs/ (.md, .txt, .pdf, .html) or docs.jsonl", path=root)
        if not qa_files:
            raise UserError(f"no Q&A pairs: expected one of {', '.join(QA_FILES)}", path=root)
    else:
        if any(p.is_dir() for p in paths):
            raise UserError("give one corpus folder, or files (a docs.jsonl and a Q&A file)", path=next(p for p in paths if p.is_dir()))
        root = paths[0].parent
        for p in paths:
            kind = _classify(p)
            if kind == "document":
                doc_type = DOC_TYPES[p.suffix.lower()]
                docs.append((DOC_READERS[doc_type](p, clean_id(p.stem, path=p, line=None, field="id")), 1))
                formats["documents"][doc_type] += 1
            elif kind == "documents":
                before = len(docs)
                docs += docs_from_jsonl(p, read_json_array(p) if p.suffix.lower() == ".json" else read_jsonl(p))
                formats[p.name]["docs-jsonl"] += len(docs) - before
            elif kind == "probes":
                found = read_probes(p)
                probes += found
                formats[p.name]["bbq"] += len(found)
            else:
                qa_files.append(p)
        if not docs:
            raise UserError("no documents among the files: add a docs.jsonl (id, title, text)", path=paths[0])
        if not qa_files:
            raise UserError("no Q&A file among the files: add a qa.jsonl (question, answer)", path=paths[0])
    for p in qa_files:
        records += read_qa(p)
    for r in records:
        formats[r.path.name][r.format] += 1
    if probes and root == paths[0]:
        formats["probes.jsonl"]["bbq"] += len(probes)

    documents = _unique_documents(docs)
    seed = meta.split_seed if seed is None else seed
    qa, seeded = _validate_qa(records, {d.id for d in documents}, seed, warnings, qa_files[0])
    warnings += quality_warnings(documents, qa, records)
    if any(r.extra_turns for r in records):
        warnings.append(f"{sum(r.extra_turns for r in records)} conversations have more than one exchange: "
                        "only the first question and answer of each are used")
    return Corpus(name=meta.name or root.resolve().name, title=meta.title or meta.name or root.resolve().name,
                  documents=documents, qa=qa, probes=probes, description=meta.description, license=meta.license,
                  system_prompt=meta.system_prompt, root=root, warnings=warnings,
                  formats={k: dict(v) for k, v in formats.items() if v}, split_seed=seed, seeded=seeded,
                  sources=[str(p.resolve()) for p in paths])


def _read_meta(path: Path, warnings: list[str]) -> CorpusMeta:
    try:
        data = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as e:
        at = re.search(r"\(at line (\d+)", str(e))  # Python 3.11's tomllib puts the line only in the message
        raise UserError(f"not valid TOML: {str(e).split(' (at ')[0]}", path=path, line=int(at.group(1)) if at else None) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise UserError("not valid TOML: nested too deeply", path=path) from None
    try:
        meta = CorpusMeta.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise UserError(err["msg"], path=path, field=".".join(str(x) for x in err["loc"])) from None
    if meta.model_extra:
        warnings.append(f"{path}: keys this tool does not use: {', '.join(sorted(meta.model_extra))}")
    return meta


def _unique_documents(docs: list[tuple[Document, int]]) -> list[Document]:
    seen: dict[str, tuple[str, int]] = {}
    for doc, line in docs:
        if doc.id in seen:
            first_path, first_line = seen[doc.id]
            raise UserError(f"duplicate document id {doc.id!r} (also in {first_path}, line {first_line})",
                            path=doc.path, line=line, field="id")
        if not doc.text.strip():
            raise UserError("empty document: no text", path=doc.path, line=line, field="text")
        seen[doc.id] = (doc.path, line)
    return [doc for doc, _ in docs]


def _validate_qa(records: list[QARecord], doc_ids: set[str], seed: int, warnings: list[str],
                 qa_file: Path) -> tuple[list[QAPair], int]:
    import difflib

    seen: dict[str, QARecord] = {}
    for r in records:
        q = r.pair
        if q.id in seen:
            raise UserError(f"duplicate id {q.id!r} (also on line {seen[q.id].line} of {seen[q.id].path.name})",
                            path=r.path, line=r.line, field="id")
        seen[q.id] = r
        for d in q.doc_ids:
            if d not in doc_ids:
                close = difflib.get_close_matches(d, doc_ids, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise UserError(f"no document has the id {d!r}{hint}", path=r.path, line=r.line, field=r.doc_field)
    if len(records) < MIN_PAIRS:
        raise UserError(f"only {len(records)} Q&A pairs: at least {MIN_PAIRS} are needed to split into train, val "
                        "and test", path=qa_file)

    seeded = 0
    for r in records:
        if r.pair.split is None:
            # The key is the id the user gave, else the question: line numbers move when lines are added.
            r.pair.split = seeded_split(r.pair.id if r.explicit_id else " ".join(tokens(r.pair.question)), seed)
            seeded += 1
    qa = [r.pair for r in records]
    counts = Counter(q.split for q in qa)
    for name in ("train", "test"):
        if not counts[name]:
            raise UserError(f"no {name} pairs after splitting {len(qa)} pairs ({dict(counts)}): add pairs or give "
                            "each a split", path=qa_file)
    if not counts["val"]:
        warnings.append("no val pairs: fine-tuning has nothing to stop early on")

    train_facts = {q.fact_id for q in qa if q.split == "train" and q.fact_id}
    seen_facts = train_facts | {q.fact_id for q in qa if q.split == "val" and q.fact_id}
    for r in records:
        q = r.pair
        if q.split == "val" and q.kind == "paraphrase" and q.fact_id not in train_facts:
            # a val rewording of a trained fact (what tells whether fine-tuning learned it)
            raise UserError(f"paraphrase item, but no train pair has the fact_id {q.fact_id!r}", path=r.path, line=r.line,
                            field="fact_id")
        if q.split != "test":
            continue
        if q.kind is None:  # inferred, for test items that did not say
            q.kind = ("unanswerable" if q.answer == UNANSWERABLE
                      else "paraphrase" if q.fact_id in train_facts else "unseen")
        elif q.kind == "paraphrase" and q.fact_id is None:
            warnings.append(f"{q.id}: a paraphrase test item with no fact_id: cannot check that a train pair states it")
        elif q.kind == "paraphrase" and q.fact_id not in train_facts:
            raise UserError(f"paraphrase item, but no train pair has the fact_id {q.fact_id!r}", path=r.path, line=r.line,
                            field="fact_id")
        elif q.kind == "unseen" and q.fact_id in seen_facts:
            raise UserError(f"unseen item, but a train or val pair states the fact {q.fact_id!r}", path=r.path,
                            line=r.line, field="fact_id")
    return qa, seeded


def resolve_corpus(domain: str | None = None, corpus: str | Path | Sequence[str | Path] | None = None) -> Corpus:
    """`--domain D` (a shipped corpus) or `--corpus PATH` (a folder, or several files)."""
    if domain and corpus:
        raise UserError("give --domain or --corpus, not both")
    if domain:
        if domain not in DOMAINS:
            raise UserError(f"unknown domain '{domain}': choose one of {', '.join(DOMAINS)}")
        return load_corpus(CORPORA_DIR / domain)
    if corpus:
        paths = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
        return load_corpus(*paths)
    raise UserError("name a corpus: --domain legal|medical|support or --corpus PATH")
