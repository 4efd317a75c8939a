"""The summary of a corpus: the figures `assistant corpus check` prints and the app's home screen shows."""
from __future__ import annotations

import statistics
from collections import Counter

from .model import KINDS, SPLITS, Corpus


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
