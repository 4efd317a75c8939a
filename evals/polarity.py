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
        "havent", "hadnt", "mustnt", "neednt",
        # a prohibition answers "can I ...?" with no: "Letting fees are prohibited"; so does advice
        # against it ("Should I take ibuprofen?" "It's best avoided")
        "prohibited", "forbidden", "banned", "barred", "abolished", "disallowed", "avoid", "avoided"}
# phrases with a cue that negate nothing ("no later than 30 days" is a deadline)
NOT_NEGATIONS = re.compile(r"\b(no|not) (later|more|less|fewer|earlier|sooner|longer) than\b|\bnot only\b"
                           r"|\bno matter\b|\bif not\b|\bnot (to )?exceed", re.I)
# ", not the tenant," is a clause of its own: "The landlord, not the tenant, pays the rates"
_ASIDE = re.compile(r",\s*(not\b[^,;.]*)")
# a negation does not reach past a clause: punctuation, a contrast, or a subordinate clause
# ("is not given when the QTc is above 470": the QTc clause is not negated)
_CLAUSE_END = re.compile(r"[;:()]|[.!?](?=\s|$)|,\s*(?:while|so|which|otherwise)\b"
                         r"|\b(?:but|however|although|though|whereas|because(?! of)|when|unless|if)\b|\b(?:since|until)\b(?!\s+\d)"
                         # "and" that starts a second predicate: "installs for one user and does not need admin rights"
                         r"|\band\b(?=\s+(?:does|do|did|is|are|was|were|can|cannot|will|must|should|has|have|had|may|needs?)\b)",
                         re.I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
# words that state the opposite of each other without a negation: "given before the session" is
# not "given after the session"; a clause with one, where the reference's has the other, negates it
OPPOSITES = [("before", "after"), ("enabled", "disabled"), ("increase", "decrease"), ("increased", "decreased"),
             ("minimum", "maximum"), ("included", "excluded"), ("accepted", "rejected"), ("higher", "lower"),
             ("above", "below"), ("earlier", "later"), ("more", "less"), ("working", "calendar"),
             ("omit", "give"), ("withhold", "give"), ("continue", "stop"), ("continued", "stopped"),
             # the parties of a legal relation: who pays, who may refuse, is the fact asked for
             ("landlord", "tenant"), ("employer", "employee"), ("buyer", "seller"), ("lender", "borrower"),
             ("licensor", "licensee")]


def _split(text: str) -> list[str]:
    return _CLAUSE_END.split(_ASIDE.sub(r"; \1;", NOT_NEGATIONS.sub(" ", text)))


def _words(clause: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(clause)]


def is_negated(text: str) -> bool:
    """Whether any clause of the text is negated ("When may an eviction not be carried out?")."""
    return any(negated for negated, _, _ in clauses(text))


def _is_cue(word: str) -> bool:
    return word.replace("'", "") in CUES or word.endswith("n't")


def _negated(words: list[str]) -> bool:
    return any(_is_cue(w) for w in words)


# adverbs that soften a bare answer without adding a fact: "Not usually; they need 12 months"
_HEDGING = {"usually", "generally", "normally", "typically", "ordinarily", "necessarily", "really", "quite"}


def answers_no(answer: str, question: str) -> bool:
    """Whether an answer without a yes or a no says no to a yes/no question. A bare first clause
    ("It doesn't — ...", "Never.") says it outright; otherwise the clause that shares most terms
    with the question decides, a negated one winning a tie ("They go back to pharmacy to be
    destroyed, not on the ward")."""
    parts = [p for clause in re.split(r"[—–]|\s-\s", answer) for p in _split(clause) if p and _words(p)]
    if not parts:
        return False
    first = _words(parts[0])
    if not fact_terms(" ".join(w for w in first if not _is_cue(w) and w not in _HEDGING)):
        return _negated(first)
    asked = {stem(t[5:]) if t.startswith("name:") else t for t in fact_terms(question)}
    scored = [(len(asked & {stem(t[5:]) if t.startswith("name:") else t for t in fact_terms(p)}), _negated(_words(p)))
              for p in parts]
    best = max(k for k, _ in scored)
    return any(neg for k, neg in scored if k == best)


def clauses(text: str) -> list[tuple[bool, set[str], set[str]]]:
    """(negated?, fact terms, words) of each clause of a text; names are folded to plain words."""
    out = []
    for clause in _split(text):
        words = _words(clause)
        if not words:
            continue
        negated = _negated(words)
        terms = {stem(t[5:]) if t.startswith("name:") else t for t in fact_terms(clause)}
        if terms:
            out.append((negated, terms, set(words)))
    return out


def _opposed(said: set[str], meant: set[str]) -> bool:
    """Whether one clause says a word and the other its opposite (and neither says both): a pair of
    OPPOSITES, or a word and its un- form ("reasonable", "unreasonable")."""
    pairs = OPPOSITES + [(w[2:], w) for w in said | meant if w.startswith("un") and len(w) > 5]
    return any((a in meant and b in said and a not in said and b not in meant)
               or (b in meant and a in said and b not in said and a not in meant) for a, b in pairs)


def contradicts(answer: str, reference: str, given: str = "") -> bool:
    """Whether the answer's clauses that state a clause of the reference (share most of its
    terms, and at least two) all have the opposite polarity: a negation one of them lacks, or a
    word the other states the opposite of (OPPOSITES). With `given` (a yes/no question, whose own
    claim the yes or the no answers), a clause of the reference that adds at least two terms of
    its own is matched by those alone ("Team Space files belong to the organisation" is not what
    "files in a Team Space do not have to be transferred" negates); one that restates the question
    by all its terms."""
    said = clauses(answer)
    if not said:
        return False
    asked = {t for _, terms, _ in clauses(given) for t in terms}
    for negated, terms, words in clauses(reference):
        if len(terms - asked) >= 2:
            terms, ignored = terms - asked, asked
        else:
            ignored = set()
        if len(terms) < 2:  # one word is too little to tell a claim from a passing mention
            continue
        shared = [len((c_terms - ignored) & terms) for _, c_terms, _ in said]
        best = max(shared)
        if best >= 2 and all((n != negated) != _opposed(w, words) for (n, _, w), k in zip(said, shared) if k == best):
            return True
    return False
