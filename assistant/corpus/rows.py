"""Reading a corpus file: UTF-8 text, the rows of a JSONL file, a JSON array or a CSV file with the
line each starts on, and the checks every path, id and text field gets."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from ..errors import UserError


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read it ({e.strerror or type(e).__name__})", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"not UTF-8 text: byte {e.start} is {data[e.start:e.start + 1]!r}", path=path, line=line) from None
    if "\x00" in text:  # a binary file, or text with a hole in it: never kept as if it were text
        at = text.index("\x00")
        raise UserError(f"holds a NUL byte (at byte {len(text[:at].encode())}): not a text file", path=path,
                        line=text.count("\n", 0, at) + 1)
    return text.removeprefix("\ufeff")


def _lines(text: str) -> list[str]:
    # Not str.splitlines(): JSON strings may hold U+2028 and friends, which it would split on.
    return [line.rstrip("\r") for line in text.split("\n")]


_TOO_DEEP = "malformed JSON: nested too deeply to read (thousands of levels of [ or {)"


def read_jsonl(path: Path) -> list[tuple[int, dict]]:
    rows = []
    for n, line in enumerate(_lines(read_text(path)), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"malformed JSON: {e.msg} (column {e.colno})", path=path, line=n) from None
        except RecursionError:
            raise UserError(_TOO_DEEP, path=path, line=n) from None
        if not isinstance(obj, dict):
            raise UserError("expected a JSON object on each line", path=path, line=n)
        rows.append((n, obj))
    return rows


_BETWEEN_ITEMS = re.compile(r"[\s,]*")


def read_json_array(path: Path) -> list[tuple[int, dict]]:
    """A JSON file holding an array of objects (Alpaca and ShareGPT files usually are), with the
    line each object starts on: json.loads forgets positions, so walk the array with raw_decode."""
    text = read_text(path)
    try:
        items = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"malformed JSON: {e.msg} (column {e.colno})", path=path, line=e.lineno) from None
    except RecursionError:
        raise UserError(_TOO_DEEP, path=path) from None
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


def read_csv(path: Path) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
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


def check_inside(path: Path, root: Path) -> None:
    """An imported corpus may not reach outside its folder: no symbolic links at all."""
    if path.is_symlink():
        raise UserError("symbolic links are not allowed in a corpus folder (they can point outside it)", path=path)
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise UserError("this file lies outside the corpus folder", path=path) from None


_UNSAFE_ID = re.compile(r"[\x00-\x1f\x7f\\]")


def clean_id(value, *, path: Path, line: int | None, field: str) -> str:
    """Ids may become file names and URLs elsewhere, so they may not climb out of a folder."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UserError(f"must be a string, not {type(value).__name__}", path=path, line=line, field=field)
    text = str(value).strip()
    if not text:
        raise UserError("empty id", path=path, line=line, field=field)
    if text.startswith(("/", "~")) or _UNSAFE_ID.search(text) or any(part in ("..", ".") for part in text.split("/")):
        raise UserError(f"unsafe id {text!r}: no '..', '\\', leading '/' or control characters", path=path, line=line, field=field)
    return text


def text_field(obj: dict, key: str, *, path: Path, line: int, required: bool = True, label: str | None = None) -> str:
    label = label or key
    if key not in obj or obj[key] is None:
        if required:
            raise UserError("missing", path=path, line=line, field=label)
        return ""
    value = obj[key]
    if not isinstance(value, str):  # `"answer": 90` is a mistake to name, not a number to turn into "90"
        raise UserError(f"must be text (a JSON string), not {type(value).__name__}", path=path, line=line, field=label)
    if "\x00" in value:
        raise UserError("holds a NUL character", path=path, line=line, field=label)
    return value
