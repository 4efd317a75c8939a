"""Where the wrong answers went wrong, per test item, so "not separated" says what to fix.

- An approach that retrieves (its records carry contexts), on answerable items with gold
  documents: `correct`, `retrieved, misread` (a gold document was among its sources and the
  answer is still wrong), or `retrieval missed` (none was). Beside it, the oracle approach (the
  same reader handed the gold documents, if evaluated) bounds what a better index could give.
- A closed-book approach, on paraphrase items (a trained fact asked anew) whose trained
  phrasing was asked verbatim: `correct`, `learned, not generalised` (right on the trained
  phrasing, wrong on the new one), or `not learned` (wrong even as trained).
Each approach gets one sentence naming its bottleneck. Rates carry n and a 95% interval.
"""
from __future__ import annotations

from .stats import mean_ci

RETRIEVAL = ("correct", "retrieved, misread", "retrieval missed")
LEARNING = ("correct", "learned, not generalised", "not learned")


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def _ci(f: dict) -> str:
    return f"{_pct(f['value'])} (95% CI {_pct(f['ci'][0])}-{_pct(f['ci'][1])}, n={f['n']})" if f.get("ci") else "n/a"


def _tally(kind: str, labels: tuple[str, str, str], steps: list[tuple[str, bool, bool]], reached: str,
           then: str) -> dict:
    """`steps`: (item id, first step reached (gold document found / fact learned), answer right).
    Each item's outcome (right; wrong after the first step; wrong before it), their counts, and
    two rates: how often the first step was reached, and how often the answer was right then."""
    outcomes = {i: labels[0] if ok else labels[1] if hit else labels[2] for i, hit, ok in steps}
    return {"kind": kind, "n": len(steps), "counts": {k: sum(o == k for o in outcomes.values()) for k in labels},
            "outcomes": outcomes, reached: mean_ci([float(hit) for _, hit, _ in steps]),
            then: mean_ci([float(ok) for _, hit, ok in steps if hit])}


def _retrieval(rs: list[dict], oracle: dict | None) -> dict:
    steps = [(r["id"], any(c.get("doc_id") in r["doc_ids"] for c in r.get("contexts") or []),
              r["scores"]["accuracy"] >= 0.5) for r in rs if r.get("doc_ids") and r["kind"] != "unanswerable"]
    out = _tally("retrieval", RETRIEVAL, steps, "hit_rate", "read_rate")
    if not steps:
        out["sentence"] = "No answerable test item names its gold document: retrieval cannot be told from reading."
        return out
    bound = f"; handed the gold documents, the same reader is right {_ci(oracle)}" if oracle else ""
    fix = ("a stronger reader (or a context it reads better), not a better index, is what would help"
           if out["counts"][RETRIEVAL[1]] >= out["counts"][RETRIEVAL[2]] else
           "a better index (or more sources in each prompt) is what would help first")
    out["sentence"] = (f"Retrieval finds a gold document for {_ci(out['hit_rate'])} of the answerable items; the "
                       f"model reads those right {_ci(out['read_rate'])}{bound}: {fix}.")
    return out


def _learning(ap: str, rs: list[dict], train: list[dict], trained: bool) -> dict:
    verbatim: dict[str, list[bool]] = {}
    for r in train:
        if r.get("fact_id"):
            verbatim.setdefault(r["fact_id"], []).append(r["scores"]["accuracy"] >= 0.5)
    steps = [(r["id"], all(verbatim[r["fact_id"]]), r["scores"]["accuracy"] >= 0.5) for r in rs
             if r["kind"] == "paraphrase" and r.get("fact_id") in verbatim]
    out = _tally("learning", LEARNING, steps, "learned_rate", "generalised_rate")
    learned_rate, carried = out["learned_rate"], out["generalised_rate"]
    if not steps:
        out["sentence"] = (f"{ap}: no paraphrase item's trained phrasing was asked, so learning cannot be told from "
                           "generalising.")
        return out
    if not trained:
        out["sentence"] = f"{ap} (not trained) already knew {_ci(learned_rate)} of the trained facts as the training " \
                          "set phrases them."
        return out
    carry = (f", and carries {_ci(carried)} of those to the test's new phrasing" if carried["n"] else
             ", so none could carry over to a new phrasing")
    head = f"{ap} answers {_ci(learned_rate)} of its trained facts when asked as trained{carry}"
    if out["counts"][LEARNING[2]] >= out["counts"][LEARNING[1]]:
        out["sentence"] = head + (": it has not learned most of what it was taught; more epochs (early-stopped on "
                                  "the held-out phrasing, --stop-on phrasings), not more facts, is what would help.")
    elif out["counts"][LEARNING[0]] > out["counts"][LEARNING[1]]:
        out["sentence"] = head + ": it learned its facts and carries most of them to new phrasings."
    else:
        # rule rewrites (--phrasings) did not beat more epochs on the embedded model (README): what
        # carries a fact to a person's new wording is written phrasings or a stronger model
        out["sentence"] = head + (": it learned its facts but does not carry most of them to new phrasings; "
                                  "phrasings written like a user's questions (several pairs per fact_id), or a "
                                  "stronger base model, are what would help.")
    return out


def attribute(answers: list[dict], approaches: list[str], bounds: list[str], trained: set[str] | None = None) -> dict:
    """{approach: {kind, n, counts, outcomes (item id -> outcome), rates, sentence}}."""
    test = {ap: [r for r in answers if r["approach"] == ap and r["split"] == "test"] for ap in approaches}
    train = {ap: [r for r in answers if r["approach"] == ap and r["split"] == "train"] for ap in approaches}
    oracle = None
    for ap in bounds:
        answerable = [r["scores"]["accuracy"] for r in test[ap] if r.get("doc_ids") and r["kind"] != "unanswerable"]
        oracle = mean_ci(answerable)
    out = {}
    for ap in approaches:
        if ap in bounds:
            continue
        if any(r.get("contexts") for r in test[ap]):
            out[ap] = _retrieval(test[ap], oracle)
        else:
            out[ap] = _learning(ap, test[ap], train[ap], ap in (trained or set()))
    return out
