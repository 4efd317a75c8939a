"""Other phrasings of a training question, so that fine-tuning meets each fact more than once.

Ovadia et al. (2024) found that fine-tuning injects a fact only when the fact is seen in several
phrasings. A corpus may hold them already (several train pairs with one fact_id); otherwise
`rewrites` makes them by rules: frames around the question ("Quick question: ...") and small
wording swaps ("How many" -> "What number of"), never touching the names and numbers the answer
depends on. Hand-written, because the paraphrase libraries on PyPI either download a model or a
thesaurus at run time (nlpaug, WordNet through nltk), which this tool must not do.

`phrasings` picks, at a seed, the phrasings a fact is trained on and one held back, never
trained on, that tells whether the adapter learned the fact or only the string.
"""
from __future__ import annotations

import dataclasses
import random
import re
import zlib

# (pattern, replacement) on the question, first match only; case kept on the first letter
SWAPS = [
    (r"^How many\b", "What number of"), (r"^What number of\b", "How many"),
    (r"^What is the\b", "What's the"), (r"^What's the\b", "What is the"),
    (r"^Which\b", "What"), (r"^How much\b", "What amount of"),
    (r"^How long\b", "For how long"), (r"^Within how many\b", "In how many"),
    (r"^Can I\b", "Am I able to"), (r"^Can you\b", "Are you able to"), (r"^Do I need to\b", "Must I"),
    (r"^Do I have to\b", "Must I"), (r"^When\b", "At what point"),
    (r"\bmust\b", "has to"), (r"\bneeds? to\b", "has to"), (r"\ballowed\b", "permitted"),
    (r"\bget\b", "receive"), (r"\bafter how long\b", "after what time"),
]
# frames around the question; {q} is the question, {lq} the question with a lower-case first letter
FRAMES = ["Quick question: {q}", "{q} Please answer briefly.", "I would like to know: {lq}", "Tell me this: {lq}",
          "Question: {q}", "{q} Thanks.", "Could you help? {q}", "One thing I need to check. {q}"]


def _lower_first(text: str) -> str:
    # "Avalon ..." and "API ..." keep their capital: only a plain word's first letter is lowered
    word = text.split(" ", 1)[0]
    return text if word[1:2].isupper() or word in ("I",) else text[:1].lower() + text[1:]


def _swap(question: str, pattern: str, replacement: str) -> str | None:
    new, n = re.subn(pattern, replacement, question, count=1, flags=re.I if pattern.startswith("\\b") else 0)
    return new if n and new != question else None


def _clause_swap(question: str) -> str | None:
    """"If X, Y?" -> "Y if X?": the same question with its condition last."""
    m = re.match(r"^(If|When) ([^,?]+), (.+)\?$", question)
    if not m:
        return None
    return f"{m.group(3)[:1].upper()}{m.group(3)[1:]} {m.group(1).lower()} {m.group(2)}?"


def rewrites(question: str) -> list[str]:
    """Every rule phrasing of `question` (without it), in a fixed order, without duplicates."""
    q = question.strip()
    bodies = [q] + [s for s in (_clause_swap(q), *(_swap(q, p, r) for p, r in SWAPS)) if s]
    framed = [frame.format(q=body, lq=_lower_first(body)) for frame in FRAMES for body in bodies[:2]]
    return [text for text in dict.fromkeys(bodies[1:] + framed) if text != q]  # first occurrences, in order


@dataclasses.dataclass
class Phrasings:
    train: list  # QAPairs to train on: every pair, then its extra phrasings
    held_out: list  # one phrasing per fact, never trained on (validation: "learned the fact")


def phrasings(pairs: list, n: int, seed: int) -> Phrasings:
    """Up to `n` phrasings of each fact to train on (the corpus's own pairs first, then rule
    rewrites of their questions), and one more rule rewrite per fact held back. Deterministic at
    a seed: each fact draws from its own generator (seed, fact), so adding a pair elsewhere does
    not change another fact's phrasings."""
    by_fact: dict[str, list] = {}
    for p in pairs:
        by_fact.setdefault(p.fact_id or p.id, []).append(p)
    train, held_out = [], []
    for fact, own in by_fact.items():
        rng = random.Random(seed * 1_000_003 + zlib.crc32(fact.encode()))
        first = own[0]
        asked = {p.question for p in own}
        candidates = [c for c in dict.fromkeys(r for p in own for r in rewrites(p.question)) if c not in asked]
        rng.shuffle(candidates)
        if candidates:
            # held back: a rewrite that does not contain a trained question word for word, when there is one
            held = next((c for c in candidates if not any(a in c for a in asked)), candidates[0])
            candidates.remove(held)
            held_out.append(dataclasses.replace(first, id=f"{first.id}~held", question=held))
        train += own
        extra = max(0, n - len(own))
        train += [dataclasses.replace(first, id=f"{first.id}~{k}", question=text)
                  for k, text in enumerate(candidates[:extra], 1)]
    return Phrasings(train, held_out)
