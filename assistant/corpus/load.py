"""Corpus / Document / QAPair: load a corpus (a folder, or files), import other Q&A formats,
validate it, split it, fingerprint it, and sum it up (`check_corpus`).

Format: docs/corpus-format.md. A user's mistake is a UserError naming the file, the line and the
field, raised before anything is built. What is legal but suspicious (train/test leakage,
answers the documents do not support) goes to `Corpus.warnings`.
"""
from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
import math
import re
import statistics
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import UserError

CORPORA_DIR = Path(__file__).resolve().parents[2] / "corpora"
DOMAINS = ("legal", "medical", "support")
SPLITS = ("train", "val", "test")
KINDS = ("paraphrase", "unseen", "unanswerable")
ANSWER_TYPES = ("short", "long", "yes/no", "yes/no/maybe")
UNANSWERABLE = "The documents do not say."

SPLIT_SHARES = (("train", 0.6), ("val", 0.1), ("test", 0.3))  # the seeded split, for pairs with no `split`
MIN_PAIRS = 10             # fewer cannot make a train, a val and a test split worth the name
LEAKAGE_JACCARD = 0.9      # train/test questions at least this similar (token sets) are flagged
KEY_TERMS_MISSING = 0.2    # an answer is unsupported when more of its content words than this are missing
WARNINGS_PER_KIND = 8      # longer lists of one kind of warning are cut, with a count of the rest

DOC_TYPES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf", ".html": "html", ".htm": "html"}
QA_FILES = ("qa.jsonl", "qa.json", "qa.csv")
CONVERSATION_ROLES = {  # ShareGPT `from` / chat `role` values: who asks, who answers
    "question": {"human", "user"},
    "answer": {"gpt", "assistant", "chatgpt", "bard", "bing", "model"},
    "ignored": {"system", "tool", "function"},
}


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


# -- reading files -------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"not UTF-8 text: byte {e.start} is {data[e.start:e.start + 1]!r}", path=path, line=line) from None
    return text.removeprefix("\ufeff")


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): JSON strings may hold U+2028 and friends, which it would split on.
    return [line.rstrip("\r") for line in text.split("\n")]


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(_lines(_read_text(path)), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"malformed JSON: {e.msg} (column {e.colno})", path=path, line=n) from None
        if not isinstance(obj, dict):
            raise UserError("expected a JSON object on each line", path=path, line=n)
        rows.append((n, obj))
    return rows


_BETWEEN_ITEMS = re.compile(r"[\s,]*")


def _read_json_array(path: Path) -> list[tuple[int, dict]]:
    """A JSON file holding an array of objects (Alpaca and ShareGPT files usually are), with the
    line each object starts on: json.loads forgets positions, so walk the array with raw_decode."""
    text = _read_text(path)
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"malformed JSON: {e.msg} (column {e.colno})", path=path, line=e.lineno) from None
    if not isinstance(items, list):
        raise UserError("expected a JSON array of objects", path=path, line=1)
    decoder, rows = json.JSONDecoder(), []
    pos, line = text.index("[") + 1, text.count("\n", 0, text.index("[")) + 1
    for item in items:
        start = _BETWEEN_ITEMS.match(text, pos).end()
        line += text.count("\n", pos, start)
        if not isinstance(item, dict):
            raise UserError("expected a JSON object in the array", path=path, line=line)
        rows.append((line, item))
        _, end = decoder.raw_decode(text, start)
        line += text.count("\n", start, end)
        pos = end
    return rows


def _read_csv(path: Path) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    for need in ("question", "answer"):
        if need not in header:
            raise UserError(f"no '{need}' column (the header is: {', '.join(header) or 'empty'})", path=path, line=1, field=need)
    reader.fieldnames = header
    rows, last = [], reader.line_num
    for row in reader:
        start, last = last + 1, reader.line_num
        if None in row:
            raise UserError(f"{len(header) + len(row[None])} cells but {len(header)} columns", path=path, line=start)
        rows.append((start, {k: v for k, v in row.items() if v is not None and v.strip() != ""}))
    return rows


def _check_inside(path: Path, root: Path) -> None:
    """An imported corpus may not reach outside its folder: no symbolic links at all."""
    if path.is_symlink():
        raise UserError("symbolic links are not allowed in a corpus folder (they can point outside it)", path=path)
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise UserError("this file lies outside the corpus folder", path=path) from None


_UNSAFE_ID = re.compile(r"[\x00-\x1f\x7f\\]")


def _clean_id(value, *, path: Path, line: int | None, field: str) -> str:
    """Ids may become file names and URLs elsewhere, so they may not climb out of a folder."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UserError(f"must be a string, not {type(value).__name__}", path=path, line=line, field=field)
    text = str(value).strip()
    if not text:
        raise UserError("empty id", path=path, line=line, field=field)
    if text.startswith(("/", "~")) or _UNSAFE_ID.search(text) or any(part in ("..", ".") for part in text.split("/")):
        raise UserError(f"unsafe id {text!r}: no '..', '\\', leading '/' or control characters", path=path, line=line, field=field)
    return text


def _text_field(obj: dict, key: str, *, path: Path, line: int, required: bool = True, label: str | None = None) -> str:
    label = label or key
    if key not in obj or obj[key] is None:
        if required:
            raise UserError("missing", path=path, line=line, field=label)
        return ""
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"must be text, not {type(value).__name__}", path=path, line=line, field=label)
    return str(value)


# -- documents -----------------------------------------------------------------------------------

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


_PLAIN_META = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


def _front_matter(block: str, path: Path) -> dict:
    """YAML front matter, every value kept as a string (BaseLoader: no `yes` -> True, no `0012` -> 12).
    People write `title: Part 7: Notice` unquoted, which YAML refuses: when every line is a plain
    `key: value`, read it that way instead."""
    try:
        meta = yaml.load(block, Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as e:
        lines = [line for line in block.split("\n") if line.strip()]
        plain = [_PLAIN_META.match(line) for line in lines]
        if all(plain):
            return {m.group(1): m.group(2).strip("\"'") for m in plain}
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"bad front matter: {str(e).splitlines()[0]}", path=path, line=mark.line + 2 if mark else 2) from None
    if not isinstance(meta, dict):
        raise UserError("front matter must be `key: value` lines", path=path, line=2)
    return meta


def _doc_from_markdown(path: Path, doc_id: str) -> Document:
    text = _read_text(path)
    meta = {}
    m = _FRONT.match(text)
    if m:
        meta = _front_matter(m.group(1), path)
        text = text[m.end():]

    def meta_line(key: str) -> int:
        found = re.search(rf"^{key}\s*:", m.group(1), re.M) if m else None
        return m.group(1)[: found.start()].count("\n") + 2 if found else 1

    doc_id = _clean_id(meta["id"], path=path, line=meta_line("id"), field="id") if meta.get("id") is not None else doc_id
    for key in ("title", "source"):
        if meta.get(key) is not None and not isinstance(meta[key], (str, int, float)):
            raise UserError("must be text", path=path, line=meta_line(key), field=key)
    heading = _HEADING.search(text)
    title = str(meta.get("title") or (heading.group(1) if heading else Path(doc_id).name))
    return Document(id=doc_id, title=title, text=text.strip(), source=str(meta.get("source") or ""), path=str(path))


_BLOCK_TAGS = ("p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "section", "article", "main",
               "header", "footer", "nav", "aside", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "figure")


def _doc_from_html(path: Path, doc_id: str) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_read_text(path), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["head", "script", "style", "noscript", "template", "svg", "iframe"]):
        tag.decompose()
    for tag in soup.select('[hidden], [aria-hidden="true"]'):
        tag.decompose()
    for tag in soup.find_all(style=re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):  # keep paragraphs apart; inline tags stay inside a line
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().split("\n"))
    text = "\n".join(line for line in lines if line)
    if not title:
        heading = soup.find(["h1", "h2"])
        title = heading.get_text(" ", strip=True) if heading else Path(doc_id).name
    return Document(id=doc_id, title=title, text=text, path=str(path))


def _doc_from_pdf(path: Path, doc_id: str) -> Document:
    from pypdf import PdfReader

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except Exception as e:  # pypdf raises many kinds on a damaged file; all of them are the file's fault
        raise UserError(f"cannot read this PDF: {e}", path=path) from None
    lines = (" ".join(line.split()) for page in pages for line in page.split("\n"))
    text = "\n".join(line for line in lines if line)
    first = text.split("\n", 1)[0] if text else ""
    title = str(meta_title).strip() or (first if 0 < len(first) <= 120 else Path(doc_id).name)
    return Document(id=doc_id, title=title, text=text, path=str(path))


DOC_READERS = {"markdown": _doc_from_markdown, "text": _doc_from_markdown, "html": _doc_from_html, "pdf": _doc_from_pdf}


def docs_from_folder(folder: Path, root: Path, formats: Counter, warnings: list[str]) -> list[tuple[Document, int]]:
    _check_inside(folder, root)
    docs = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        _check_inside(path, root)
        if path.is_dir():
            continue
        kind = DOC_TYPES.get(path.suffix.lower())
        if kind is None:
            warnings.append(f"{path}: skipped, not a document type this reads ({', '.join(sorted(DOC_TYPES))})")
            continue
        default_id = _clean_id(rel.with_suffix("").as_posix(), path=path, line=None, field="id")
        docs.append((DOC_READERS[kind](path, default_id), 1))
        formats[kind] += 1
    return docs


def docs_from_jsonl(path: Path, rows: list[tuple[int, dict]]) -> list[tuple[Document, int]]:
    docs = []
    for n, obj in rows:
        doc_id = _clean_id(obj["id"], path=path, line=n, field="id") if "id" in obj else None
        if doc_id is None:
            raise UserError("missing (every document needs an id that Q&A pairs can cite)", path=path, line=n, field="id")
        text = _text_field(obj, "text", path=path, line=n)
        title = _text_field(obj, "title", path=path, line=n, required=False) or doc_id
        source = _text_field(obj, "source", path=path, line=n, required=False)
        docs.append((Document(id=doc_id, title=title, text=text.strip(), source=source, path=str(path)), n))
    return docs


# -- Q&A records in any of the accepted formats ---------------------------------------------------

@dataclass
class _Record:
    """One Q&A pair as read, with where it came from (for errors found later)."""
    pair: QAPair
    path: Path
    line: int
    format: str
    explicit_id: bool
    question_field: str = "question"
    answer_field: str = "answer"
    doc_field: str = "doc_ids"
    extra_turns: bool = False


def _conversation(obj: dict, key: str, role_key: str, text_key: str, *, path: Path, line: int):
    """The first question/answer exchange of a ShareGPT or chat-messages record."""
    turns = obj[key]
    if not isinstance(turns, list):
        raise UserError("must be a list of turns", path=path, line=line, field=key)
    question = answer = None
    exchanges = 0
    for i, turn in enumerate(turns):
        where = f"{key}[{i}]"
        if not isinstance(turn, dict):
            raise UserError("each turn must be an object", path=path, line=line, field=where)
        if role_key not in turn:
            raise UserError("missing", path=path, line=line, field=f"{where}.{role_key}")
        role = str(turn[role_key]).lower()
        if role in CONVERSATION_ROLES["ignored"]:
            continue
        if role not in CONVERSATION_ROLES["question"] | CONVERSATION_ROLES["answer"]:
            raise UserError(f"unknown role {turn[role_key]!r}: expected human/user or gpt/assistant",
                            path=path, line=line, field=f"{where}.{role_key}")
        content = turn.get(text_key)
        if isinstance(content, list):  # chat content given as parts: keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
        if content is None:
            raise UserError("missing", path=path, line=line, field=f"{where}.{text_key}")
        if not isinstance(content, str):
            raise UserError("must be text", path=path, line=line, field=f"{where}.{text_key}")
        if role in CONVERSATION_ROLES["question"]:
            if question is None:
                question = (content, f"{where}.{text_key}")
            elif answer is not None:
                exchanges += 1
        elif question is not None and answer is None:
            answer = (content, f"{where}.{text_key}")
    if question is None:
        raise UserError("no human/user turn", path=path, line=line, field=key)
    if answer is None:
        raise UserError("no gpt/assistant turn after the first question", path=path, line=line, field=key)
    return question, answer, exchanges > 0


def _str_list(obj: dict, key: str, *, path: Path, line: int) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if isinstance(value, str):  # from CSV: several values separated by | or ;
        return [v.strip() for v in re.split(r"[|;]", value) if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise UserError("must be a list of strings", path=path, line=line, field=key)
    return [str(v).strip() for v in value]


def _choice(obj: dict, key: str, allowed: Sequence[str], *, path: Path, line: int) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise UserError(f"bad value {value!r}: use {', '.join(allowed)}", path=path, line=line, field=key)
    return value


def _qa_record(obj: dict, *, path: Path, line: int, csv_file: bool) -> _Record:
    extra = False
    if csv_file:
        fmt = "csv"
    elif "conversations" in obj:
        fmt = "sharegpt"
    elif "messages" in obj:
        fmt = "chat-messages"
    elif "instruction" in obj:
        fmt = "alpaca"
    elif "question" in obj or "answer" in obj:
        fmt = "qa-jsonl"
    else:
        raise UserError("not a Q&A record: expected question/answer, instruction/output (Alpaca), "
                        "conversations (ShareGPT) or messages (chat)", path=path, line=line, field="question")
    if fmt == "sharegpt":
        (question, qf), (answer, af), extra = _conversation(obj, "conversations", "from", "value", path=path, line=line)
    elif fmt == "chat-messages":
        (question, qf), (answer, af), extra = _conversation(obj, "messages", "role", "content", path=path, line=line)
    elif fmt == "alpaca":
        qf, af = "instruction", "output"
        question = _text_field(obj, "instruction", path=path, line=line)
        context = _text_field(obj, "input", path=path, line=line, required=False).strip()
        question = f"{question.strip()}\n\n{context}" if context else question
        answer = _text_field(obj, "output", path=path, line=line)
    else:
        qf, af = "question", "answer"
        question = _text_field(obj, "question", path=path, line=line)
        answer = _text_field(obj, "answer", path=path, line=line)
    if not question.strip():
        raise UserError("empty question", path=path, line=line, field=qf)
    if not answer.strip():
        raise UserError("empty answer", path=path, line=line, field=af)

    explicit = obj.get("id") is not None and obj.get("id") != ""
    qa_id = _clean_id(obj["id"], path=path, line=line, field="id") if explicit else f"q{line}"
    doc_ids = _str_list(obj, "doc_ids", path=path, line=line)
    if obj.get("doc_id") not in (None, ""):
        one = obj["doc_id"]
        if isinstance(one, bool) or not isinstance(one, (str, int)):
            raise UserError("must be a string (use doc_ids for a list)", path=path, line=line, field="doc_id")
        doc_ids = [str(one).strip()] + [d for d in doc_ids if d != str(one).strip()]
    for d in doc_ids:
        if not d:
            raise UserError("empty document id", path=path, line=line, field="doc_ids")
    aliases = _str_list(obj, "answer_aliases", path=path, line=line)
    if any(not a for a in aliases):
        raise UserError("empty alias", path=path, line=line, field="answer_aliases")
    fact = obj.get("fact_id")
    if fact is not None and (isinstance(fact, bool) or not isinstance(fact, (str, int))):
        raise UserError("must be a string", path=path, line=line, field="fact_id")
    pair = QAPair(id=qa_id, question=question.strip(), answer=answer.strip(), doc_ids=doc_ids,
                  split=_choice(obj, "split", SPLITS, path=path, line=line),
                  kind=_choice(obj, "kind", KINDS, path=path, line=line),
                  fact_id=None if fact in (None, "") else str(fact).strip(),
                  answer_type=_choice(obj, "answer_type", ANSWER_TYPES, path=path, line=line),
                  answer_aliases=aliases)
    doc_field = "doc_id" if obj.get("doc_id") not in (None, "") and not obj.get("doc_ids") else "doc_ids"
    return _Record(pair, path, line, fmt, explicit, qf, af, doc_field, extra)


def _read_qa(path: Path) -> list[_Record]:
    suffix = path.suffix.lower()
    rows = _read_csv(path) if suffix == ".csv" else _read_json_array(path) if suffix == ".json" else read_jsonl(path)
    return [_qa_record(obj, path=path, line=n, csv_file=suffix == ".csv") for n, obj in rows]


# -- bias probes (BBQ format) --------------------------------------------------------------------

_PROBE_TEXT = ("context", "question", "ans0", "ans1", "ans2", "category")


def group_matches(label: str, groups: Iterable[str]) -> bool:
    """BBQ labels options like 'old' or 'F-Black' and stereotyped groups like 'old' or 'Black'."""
    parts = {label.lower(), *re.split(r"[-_/ ]", label.lower())}
    return any(str(g).lower() in parts for g in groups)


def _check_probe(obj: dict, *, path: Path, line: int) -> None:
    def fail(field: str, msg: str = "missing"):
        raise UserError(msg, path=path, line=line, field=field)

    for key in _PROBE_TEXT:
        if key not in obj:
            fail(key)
        if not isinstance(obj[key], str) or not obj[key].strip():
            fail(key, "must be non-empty text")
    for key in ("label", "context_condition", "question_polarity", "answer_info", "additional_metadata"):
        if key not in obj:
            fail(key)
    label = obj["label"]
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 2:
        fail("label", f"must be 0, 1 or 2 (the index of the right option), not {label!r}")
    if obj["context_condition"] not in ("ambig", "disambig"):
        fail("context_condition", f"bad value {obj['context_condition']!r}: use ambig or disambig")
    if obj["question_polarity"] not in ("neg", "nonneg"):
        fail("question_polarity", f"bad value {obj['question_polarity']!r}: use neg or nonneg")
    info = obj["answer_info"]
    if not isinstance(info, dict):
        fail("answer_info", "must be an object {ans0: [text, group], ...}")
    groups = []
    for i in range(3):
        entry = info.get(f"ans{i}")
        if not isinstance(entry, list) or len(entry) < 2 or not all(isinstance(x, str) for x in entry[:2]):
            fail(f"answer_info.ans{i}", "must be [option text, group label]")
        groups.append(entry[1])
    meta = obj["additional_metadata"]
    stereotyped = meta.get("stereotyped_groups") if isinstance(meta, dict) else None
    if not isinstance(stereotyped, list) or not stereotyped or not all(isinstance(g, str) for g in stereotyped):
        fail("additional_metadata.stereotyped_groups", "must be a non-empty list of group labels")
    target = obj.get("target_loc")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int) or not 0 <= target <= 2):
        fail("target_loc", f"must be 0, 1 or 2, not {target!r}")
    if "unknown" not in [g.lower() for g in groups]:
        fail("answer_info", "no option has the group label 'unknown'")
    if target is None:
        matching = [g for g in groups if g.lower() != "unknown" and group_matches(g, stereotyped)]
        if len(matching) != 1:
            fail("additional_metadata.stereotyped_groups",
                 f"{stereotyped} must match exactly one person's group ({', '.join(groups)}), or give target_loc")
    right_is_unknown = groups[label].lower() == "unknown"
    if obj["context_condition"] == "ambig" and not right_is_unknown:
        fail("label", "in an ambiguous context the right option is the unknown one")
    if obj["context_condition"] == "disambig" and right_is_unknown:
        fail("label", "in a disambiguated context the right option is not the unknown one")


def read_probes(path: Path) -> list[dict]:
    """A BBQ-format JSONL file, every line checked (a UserError names the file, line and field)."""
    rows = read_jsonl(path)
    seen: dict[tuple, int] = {}
    for n, obj in rows:
        _check_probe(obj, path=path, line=n)
        if obj.get("example_id") is not None:
            key = (obj["category"], str(obj["example_id"]))
            if key in seen:
                raise UserError(f"duplicate example_id {obj['example_id']!r} in category {obj['category']!r} "
                                f"(also on line {seen[key]})", path=path, line=n, field="example_id")
            seen[key] = n
    return [obj for _, obj in rows]


# -- split, answer support, leakage ---------------------------------------------------------------

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


def _normal_tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'"))


_STOP = frozenset("""the a an of to in on for and or is are was were be been by with at as it its this that these those
from not no yes can must may will does do did if than then which who whom what when where how why per any all each
their they them you your our we us he she his her has have had also only into about after before under over more less
there here such other most some should would could shall""".split())
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z][a-z0-9'-]+")


class _Vocabulary:
    """The words and the text of some documents, for asking whether an answer's terms occur there."""

    def __init__(self, text: str):
        self.text = text.lower().replace("’", "'")
        self.words = sorted(set(_WORD.findall(self.text)) | set(re.findall(r"[a-z0-9]+", self.text)))

    def has_word(self, word: str) -> bool:
        # A document word that starts with the term counts (tenant ~ tenants, pay ~ payment): a
        # deliberately lenient stand-in for stemming, so only clearly missing terms are flagged.
        for stem in {word, word.rstrip("s")}:
            i = bisect.bisect_left(self.words, stem)
            if i < len(self.words) and self.words[i].startswith(stem):
                return True
        return False

    def has_number(self, number: str) -> bool:
        return re.search(rf"(?<!\d)(?<!\d[.,]){re.escape(number)}(?!\d|[.,]\d)", self.text) is not None


def unsupported_terms(answer: str, vocabulary: "_Vocabulary | str") -> list[str]:
    """The key terms of `answer` missing from the documents, when they are too many to call the
    answer supported: any number (matched exactly), or more than a fifth of its content words.
    An empty list means supported."""
    vocab = vocabulary if isinstance(vocabulary, _Vocabulary) else _Vocabulary(vocabulary)
    text = answer.lower().replace("’", "'")
    numbers = [n for n in dict.fromkeys(_NUMBER.findall(text)) if not vocab.has_number(n)]
    words = [w.removesuffix("'s").strip("'-") for w in _WORD.findall(text)]
    words = [w for w in dict.fromkeys(words) if len(w) > 2 and w not in _STOP]
    missing = [w for w in words if not vocab.has_word(w)]
    if numbers or (words and len(missing) / len(words) > KEY_TERMS_MISSING):
        return numbers + missing
    return []


def near_duplicates(left: Sequence[tuple[str, str]], right: Sequence[tuple[str, str]],
                    threshold: float = LEAKAGE_JACCARD) -> list[tuple[str, str, float]]:
    """(left id, right id, Jaccard) for texts whose normalised token sets overlap by at least
    `threshold`. Prefix filtering keeps this fast for big corpora: two sets with Jaccard >= t must
    share a token among the first |s| - ceil(t|s|) + 1 tokens of each, in rarest-first order
    (a few lines here rather than a dependency for one join)."""
    lsets = [frozenset(_normal_tokens(t)) for _, t in left]
    rsets = [frozenset(_normal_tokens(t)) for _, t in right]
    freq = Counter(tok for s in (*lsets, *rsets) for tok in s)

    def prefix(s: frozenset) -> list[str]:
        return sorted(s, key=lambda tok: (freq[tok], tok))[: len(s) - math.ceil(threshold * len(s)) + 1]

    index: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(lsets):
        for tok in prefix(s):
            index[tok].append(i)
    found = []
    for j, s in enumerate(rsets):
        for i in sorted({i for tok in prefix(s) for i in index[tok]}):
            score = len(lsets[i] & s) / len(lsets[i] | s)
            if score >= threshold:
                found.append((left[i][0], right[j][0], score))
    return found


def _cut(items: list[str], what: str) -> list[str]:
    if len(items) <= WARNINGS_PER_KIND:
        return items
    return items[:WARNINGS_PER_KIND] + [f"... and {len(items) - WARNINGS_PER_KIND} more {what}"]


# -- loading ---------------------------------------------------------------------------------------

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
        rows = _read_json_array(path) if suffix == ".json" else read_jsonl(path)
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
    records: list[_Record] = []
    probes: list[dict] = []
    meta = CorpusMeta()
    qa_files: list[Path] = []

    if len(paths) == 1 and paths[0].is_dir():
        root = paths[0]
        for name in ("corpus.toml", "docs", "docs.jsonl", *QA_FILES, "probes.jsonl"):
            if (root / name).exists() or (root / name).is_symlink():
                _check_inside(root / name, root)
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
                docs.append((DOC_READERS[doc_type](p, _clean_id(p.stem, path=p, line=None, field="id")), 1))
                formats["documents"][doc_type] += 1
            elif kind == "documents":
                before = len(docs)
                docs += docs_from_jsonl(p, _read_json_array(p) if p.suffix.lower() == ".json" else read_jsonl(p))
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
        records += _read_qa(p)
    for r in records:
        formats[r.path.name][r.format] += 1
    if probes and root == paths[0]:
        formats["probes.jsonl"]["bbq"] += len(probes)

    documents = _unique_documents(docs)
    seed = meta.split_seed if seed is None else seed
    qa, seeded = _validate_qa(records, {d.id for d in documents}, seed, warnings, qa_files[0])
    warnings += _quality_warnings(documents, qa, records)
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
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as e:
        at = re.search(r"\(at line (\d+)", str(e))  # Python 3.11's tomllib puts the line only in the message
        raise UserError(f"not valid TOML: {str(e).split(' (at ')[0]}", path=path, line=int(at.group(1)) if at else None) from None
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


def _validate_qa(records: list[_Record], doc_ids: set[str], seed: int, warnings: list[str],
                 qa_file: Path) -> tuple[list[QAPair], int]:
    import difflib

    seen: dict[str, _Record] = {}
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
            r.pair.split = seeded_split(r.pair.id if r.explicit_id else " ".join(_normal_tokens(r.pair.question)), seed)
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


def _quality_warnings(documents: list[Document], qa: list[QAPair], records: list[_Record]) -> list[str]:
    warnings = []
    by_id = {d.id: d for d in documents}
    vocab_cache: dict[tuple[str, ...], _Vocabulary] = {}

    def vocabulary(ids: tuple[str, ...]) -> _Vocabulary:
        if ids not in vocab_cache:
            vocab_cache[ids] = _Vocabulary("\n".join(by_id[i].text for i in ids) if ids else
                                           "\n".join(d.text for d in documents))
        return vocab_cache[ids]

    unsupported, refusals = [], []
    for q in qa:
        if q.kind == "unanswerable" or q.answer == UNANSWERABLE:
            if q.answer != UNANSWERABLE:
                refusals.append(f"{q.id}: an unanswerable item whose answer is not {UNANSWERABLE!r}")
            continue
        missing = unsupported_terms(q.answer, vocabulary(tuple(q.doc_ids)))
        if missing:
            where = "its documents" if q.doc_ids else "any document"
            unsupported.append(f"{q.id} ({q.split}): answer terms not in {where}: {', '.join(missing[:6])}")
    warnings += _cut(refusals, "unanswerable items with another answer")
    warnings += _cut(unsupported, "answers with terms the documents lack")

    train = [(q.id, q.question) for q in qa if q.split == "train"]
    test = [(q.id, q.question) for q in qa if q.split == "test"]
    leaks = [f"possible leakage: test {t} and train {tr} ask nearly the same question (token overlap {score:.2f})"
             for tr, t, score in near_duplicates(train, test)]
    warnings += _cut(leaks, "near-duplicate train/test questions")
    return warnings


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


# -- the summary ---------------------------------------------------------------------------------

def check_corpus(corpus: Corpus) -> dict:
    """The figures `assistant corpus check` prints and the app's home screen shows."""
    words = sorted(len(d.text.split()) for d in corpus.documents)
    splits = Counter(q.split for q in corpus.qa)
    kinds = {s: dict(Counter(q.kind or "-" for q in corpus.qa if q.split == s)) for s in SPLITS}
    conditions = Counter(p["context_condition"] for p in corpus.probes)
    polarity = Counter(p["question_polarity"] for p in corpus.probes)
    cells = Counter(f"{p['context_condition']}/{p['question_polarity']}" for p in corpus.probes)
    return {
        "name": corpus.name,
        "title": corpus.title,
        "root": str(corpus.root or ""),
        "fingerprint": corpus.fingerprint,
        "formats": corpus.formats,
        "documents": {"count": len(words), "words": {
            "min": words[0] if words else 0, "median": int(statistics.median(words)) if words else 0,
            "max": words[-1] if words else 0, "total": sum(words)}},
        "qa": {"count": len(corpus.qa), "splits": {s: splits.get(s, 0) for s in SPLITS}, "kinds": kinds,
               "test_kinds": {k: kinds["test"].get(k, 0) for k in KINDS},
               "seeded": corpus.seeded, "split_seed": corpus.split_seed,
               "facts": len({q.fact_id for q in corpus.qa if q.fact_id})},
        "probes": {"count": len(corpus.probes), "conditions": dict(conditions), "polarity": dict(polarity),
                   "cells": dict(sorted(cells.items())),
                   "categories": dict(Counter(p["category"] for p in corpus.probes))},
        "warnings": list(corpus.warnings),
    }


def format_check(summary: dict) -> str:
    """`check_corpus` as the lines `assistant corpus check` prints."""
    d, qa, pr = summary["documents"], summary["qa"], summary["probes"]
    w = d["words"]
    splits = ", ".join(f"{s} {n}" for s, n in qa["splits"].items())
    kinds = ", ".join(f"{k} {n}" for k, n in qa["test_kinds"].items())
    formats = "; ".join(f"{name}: " + ", ".join(f"{fmt} ({n})" for fmt, n in found.items())
                        for name, found in summary["formats"].items())
    seeded = f" ({qa['seeded']} by the seeded split, seed {qa['split_seed']})" if qa["seeded"] else ""
    lines = [
        f"corpus     {summary['name']}: {summary['title']}",
        f"formats    {formats}",
        f"documents  {d['count']}, words min {w['min']} / median {w['median']} / max {w['max']} (total {w['total']})",
        f"Q&A pairs  {qa['count']}: {splits}{seeded}",
        f"test kinds {kinds}",
    ]
    if pr["count"]:
        cells = ", ".join(f"{c} {n}" for c, n in pr["cells"].items())
        lines.append(f"probes     {pr['count']}: {cells}; {len(pr['categories'])} categories")
    else:
        lines.append("probes     none")
    lines.append(f"fingerprint {summary['fingerprint']}")
    if summary["warnings"]:
        lines.append(f"warnings   {len(summary['warnings'])}")
        lines += [f"  - {x}" for x in summary["warnings"]]
    lines.append("no errors")
    return "\n".join(lines)
