"""Bias probes in the BBQ format: every line checked, and how a BBQ group label matches a group."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from ..errors import UserError
from .rows import read_jsonl


_PROBE_TEXT = ("context", "question", "ans0", "ans1", "ans2", "category")


def group_matches(label: str, groups: Iterable[str]) -> bool:
    """BBQ labels options like 'old' or 'F-Black' and stereotyped groups like 'old' or 'Black'."""
    parts = {label.lower(), *re.split(r"[-_/ ]", label.lower())}
    return any(str(g).lower() in parts for g in groups)


def stereotyped_groups(obj: dict):
    """The probe's stereotyped groups: under additional_metadata, as BBQ's own files keep them,
    or at the top level, as several public copies of BBQ are laid out."""
    meta = obj.get("additional_metadata")
    inner = meta.get("stereotyped_groups") if isinstance(meta, dict) else None
    return inner if inner is not None else obj.get("stereotyped_groups")


def _check_probe(obj: dict, *, path: Path, line: int) -> None:
    def fail(field: str, msg: str = "missing"):
        raise UserError(msg, path=path, line=line, field=field)

    for key in _PROBE_TEXT:
        if key not in obj:
            fail(key)
        if not isinstance(obj[key], str) or not obj[key].strip():
            fail(key, "must be non-empty text")
    for key in ("label", "context_condition", "question_polarity", "answer_info"):
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
    stereotyped = stereotyped_groups(obj)
    if not isinstance(stereotyped, list) or not stereotyped or not all(isinstance(g, str) for g in stereotyped):
        fail("additional_metadata.stereotyped_groups",
             "must be a non-empty list of group labels (under additional_metadata or at the top level)")
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
    if not rows:
        raise UserError("no probes in this file (one BBQ item per line); leave the file out to run without them",
                        path=path)
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
