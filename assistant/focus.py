"""The `focused` RAG context: from the retrieved chunks, the pieces a small model can read.

A 135M-parameter reader given whole chunks rarely copies the answer out of them, even when the
right chunk is first; given the few sentences that share the question's words, it often does
(RESEARCH.md: 10% -> 32% on support). So, from the top-k chunks:

- units: sentences (split by sentencex, Wikimedia's maintained rule-based splitter; no model, no
  data download), list items, and markdown table rows, each row carried with its table's header
  row, since a row alone ("| Pro | 50 GB |") does not say what its cells are; a unit's heading
  counts towards its terms;
- each unit scored by the question's terms it contains (stemmed content words and exact
  numbers, text.fact_terms), weighted by how rare each term is among the retrieved units, with
  a small preference for higher-ranked chunks;
- the best units taken, each with the sentence after it when that one carries question terms
  too, until the token budget is spent; each chunk's units kept in their own order and the
  chunks in rank order, so source [n] is still hit n and citations map back to their chunk.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from .text import fact_terms

_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|[\s:|-]+\|\s*$")
RANK_DECAY = 0.15  # a unit of hit n weighs 1 / (1 + RANK_DECAY * (n - 1)) as much as one of hit 1


@dataclass
class Unit:
    hit: int  # index into the hits
    order: int  # position within its chunk
    text: str  # what the model reads (a table row with its header)
    terms: frozenset  # its own terms and its heading's


def terms(text: str) -> frozenset:
    """A text's fact terms (text.fact_terms), names matched whatever their case."""
    return frozenset(t.removeprefix("name:") for t in fact_terms(text))


def _sentences(text: str) -> list[str]:
    from sentencex import segment

    return [s.strip() for s in segment("en", text) if s.strip()]


_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def units_of(text: str) -> list[tuple[str, str]]:
    """A chunk's readable units with the heading they sit under: sentences of its prose, each
    list item, and each table row under its header row. Headings are not units; their words
    count towards the units below them."""
    out: list[tuple[str, str]] = []
    heading, header, prose = "", None, []

    def flush():
        if prose:
            out.extend((s, heading) for s in _sentences(" ".join(prose)))
            prose.clear()

    lines = text.splitlines()
    for i, line in enumerate(lines):
        line = line.replace("**", "").strip()
        if _TABLE_ROW.match(line):
            flush()
            if _TABLE_RULE.match(line):
                continue
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if header is None and _TABLE_RULE.match(nxt):  # a header row: the rule line follows it
                header = line
                continue
            out.append((f"{header}\n{line}" if header else line, heading))
            continue
        header = None
        if not line:
            flush()
        elif line.startswith("#"):
            flush()
            heading = line.lstrip("#").strip()
        elif _LIST_ITEM.match(line):
            flush()
            out.append((line, heading))
        else:
            prose.append(line)
    flush()
    return out


def focus(question: str, chunks: list[str], count: Callable[[str], int], budget: int) -> dict[int, list[str]]:
    """For each chunk (by its index among the hits), the units to show, within `budget` tokens
    as measured by `count`. Chunks with nothing chosen are left out."""
    asked = terms(question)
    units = [Unit(h, i, text, terms(text) | terms(heading)) for h, chunk in enumerate(chunks)
             for i, (text, heading) in enumerate(units_of(chunk))]
    if not units:
        return {}
    df = {t: sum(t in u.terms for u in units) for t in asked}
    idf = {t: math.log(1 + len(units) / df[t]) for t in asked if df[t]}

    def score(u: Unit) -> float:
        return sum(idf.get(t, 0.0) for t in asked & u.terms) / (1 + RANK_DECAY * u.hit)

    ranked = sorted(units, key=lambda u: (-score(u), u.hit, u.order))
    by_place = {(u.hit, u.order): u for u in units}
    chosen: dict[tuple[int, int], Unit] = {}
    used = 0
    for u in ranked:
        if score(u) <= 0 and chosen:
            break
        for piece in (u, by_place.get((u.hit, u.order + 1))):
            if piece is None or (piece.hit, piece.order) in chosen:
                continue
            if piece is not u and not (asked & piece.terms):  # the next sentence only when it bears on the question
                continue
            need = count(piece.text) + 1
            if used + need > budget:
                continue
            chosen[(piece.hit, piece.order)] = piece
            used += need
    out: dict[int, list[str]] = {}
    for (h, i) in sorted(chosen):
        out.setdefault(h, []).append(chosen[(h, i)].text)
    return out
