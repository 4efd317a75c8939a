"""Documents: Markdown and text (with front matter), HTML, PDF, docs.jsonl, and a folder of them."""
from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import yaml

from ..errors import UserError
from .model import Document
from .rows import check_inside, clean_id, read_text, text_field


DOC_TYPES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf", ".html": "html", ".htm": "html"}


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
    text = read_text(path)
    meta = {}
    m = _FRONT.match(text)
    if m:
        meta = _front_matter(m.group(1), path)
        text = text[m.end():]

    def meta_line(key: str) -> int:
        found = re.search(rf"^{key}\s*:", m.group(1), re.M) if m else None
        return m.group(1)[: found.start()].count("\n") + 2 if found else 1

    doc_id = clean_id(meta["id"], path=path, line=meta_line("id"), field="id") if meta.get("id") is not None else doc_id
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

    soup = BeautifulSoup(read_text(path), "html.parser")
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


def _every_path(folder: Path) -> list[Path]:
    """Every file and folder under `folder`, sorted, not descending into hidden ones. Not rglob:
    it skips a subfolder it cannot list without a word, and its documents would be lost unseen."""
    def unreadable(e: OSError):
        raise UserError(f"cannot read this folder ({e.strerror or type(e).__name__}): its documents would be "
                        "left out", path=e.filename)

    found = []
    for top, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(top) / name for name in (*dirs, *files)]
    return sorted(found)


def docs_from_folder(folder: Path, root: Path, formats: Counter, warnings: list[str]) -> list[tuple[Document, int]]:
    check_inside(folder, root)
    docs = []
    for path in _every_path(folder):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        check_inside(path, root)
        if path.is_dir():
            continue
        kind = DOC_TYPES.get(path.suffix.lower())
        if kind is None:
            warnings.append(f"{path}: skipped, not a document type this reads ({', '.join(sorted(DOC_TYPES))})")
            continue
        default_id = clean_id(rel.with_suffix("").as_posix(), path=path, line=None, field="id")
        docs.append((DOC_READERS[kind](path, default_id), 1))
        formats[kind] += 1
    return docs


def docs_from_jsonl(path: Path, rows: list[tuple[int, dict]]) -> list[tuple[Document, int]]:
    docs = []
    for n, obj in rows:
        doc_id = clean_id(obj["id"], path=path, line=n, field="id") if "id" in obj else None
        if doc_id is None:
            raise UserError("missing (every document needs an id that Q&A pairs can cite)", path=path, line=n, field="id")
        text = text_field(obj, "text", path=path, line=n)
        title = text_field(obj, "title", path=path, line=n, required=False) or doc_id
        source = text_field(obj, "source", path=path, line=n, required=False)
        docs.append((Document(id=doc_id, title=title, text=text.strip(), source=source, path=str(path)), n))
    return docs
