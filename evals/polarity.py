"""Does an answer negate what its reference states (or state what it negates)?

Key-fact recall counts the reference's terms an answer states, so "The Belfry does not have a
restaurant" recalls "There is a restaurant and a bar at the Belfry" well: a wrong answer would
pass. This check compares polarity clause by clause: for each clause of the reference, the
answer's clause that shares most of its terms; when that clause shares enough of them and one
of the two is negated and the other is not, the answer contradicts the reference.

Clauses, not words: "Outdoor seating is not offered at Rice House" and "Rice House does not offer
outdoor seating" negate different words of the same claim (the passive moves them), but both
clauses are negated. Written here because the maintained negation detectors (negspacy,
medspaCy) need a spaCy pipeline and model this project does not ship.
"""
from __future__ import annotations

import re

from assistant.text import fact_terms, stem

# a negation cue is one of these words or any "n't"; "without" and "lacks" are left out on
# purpose: "cancel without a fee" and "cancellation is free" say the same thing
CUES = {"not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "cannot", "cant", "isnt", "arent",
        "wasnt", "werent", "dont", "doesnt", "didnt", "wont", "wouldnt", "shouldnt", "couldnt", "hasnt",
        "havent", "hadnt", "mustnt", "neednt"}
# phrases with a cue that negate nothing ("no later than 30 days" is a deadline)
NOT_NEGATIONS = re.compile(r"\b(no|not) (later|more|less|fewer|earlier|sooner|longer) than\b|\bnot only\b"
                           r"|\bno matter\b|\bif not\b", re.I)
_CLAUSE_END = re.compile(r"[;:.!?()]|,\s*(?:but|however|although|though|whereas|while)\b|\b(?:but|however|whereas)\b",
                         re.I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")


def clauses(text: str) -> list[tuple[bool, set[str]]]:
    """(negated?, fact terms) of each clause of a text; names are folded to plain words."""
    out = []
    for clause in _CLAUSE_END.split(NOT_NEGATIONS.sub(" ", text)):
        words = [w.lower().replace("’", "'") for w in _WORD.findall(clause)]
        if not words:
            continue
        negated = any(w.replace("'", "") in CUES or w.endswith("n't") for w in words)
        terms = {stem(t[5:]) if t.startswith("name:") else t for t in fact_terms(clause)}
        if terms:
            out.append((negated, terms))
    return out


def contradicts(answer: str, reference: str) -> bool:
    """Whether the answer's clauses that state a clause of the reference (share most of its
    terms, and at least two, or its only one) all have the opposite polarity."""
    said = clauses(answer)
    if not said:
        return False
    for negated, terms in clauses(reference):
        shared = [len(c_terms & terms) for _, c_terms in said]
        best = max(shared)
        if best >= min(2, len(terms)) and all(n != negated for (n, _), k in zip(said, shared) if k == best):
            return True
    return False
