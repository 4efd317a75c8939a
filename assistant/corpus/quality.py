"""What is legal but suspicious, for `Corpus.warnings`: answers with terms their documents lack,
unanswerable items with another answer, and near-duplicate train/test questions (leakage)."""
from __future__ import annotations

import bisect
import math
import re
from collections import Counter, defaultdict
from typing import Sequence

from ..text import SUPPORT_WORD, normalise, support_terms, tokens
from .model import SENTENCE_WORDS, UNANSWERABLE, Document, QAPair, answer_form
from .qa_formats import QARecord


LEAKAGE_JACCARD = 0.9      # train/test questions at least this similar (token sets) are flagged
KEY_TERMS_MISSING = 0.2    # an answer is unsupported when more of its content words than this are missing
WARNINGS_PER_KIND = 8      # longer lists of one kind of warning are cut, with a count of the rest


class _Vocabulary:
    """The words and the text of some documents, for asking whether an answer's terms occur there."""

    def __init__(self, text: str):
        self.text = normalise(text)
        self.words = sorted(set(SUPPORT_WORD.findall(self.text)) | set(tokens(self.text)))

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
    numbers, words = support_terms(answer)
    numbers = [n for n in numbers if not vocab.has_number(n)]
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
    lsets = [frozenset(tokens(t)) for _, t in left]
    rsets = [frozenset(tokens(t)) for _, t in right]
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


def quality_warnings(documents: list[Document], qa: list[QAPair], records: list[QARecord]) -> list[str]:
    warnings = []
    by_id = {d.id: d for d in documents}
    vocab_cache: dict[tuple[str, ...], _Vocabulary] = {}

    def vocabulary(ids: tuple[str, ...]) -> _Vocabulary:
        if ids not in vocab_cache:
            vocab_cache[ids] = _Vocabulary("\n".join(by_id[i].text for i in ids) if ids else
                                           "\n".join(d.text for d in documents))
        return vocab_cache[ids]

    unsupported, refusals, sentences = [], [], []
    for q in qa:
        short_alias = any(len(a.split()) < SENTENCE_WORDS for a in q.answer_aliases)  # it is matched too
        if answer_form(q.answer_type, q.answer_aliases, q.answer) == "sentence" and not short_alias \
                and q.kind != "unanswerable":
            sentences.append(f"{q.id}: answer_type short, but its answer is a sentence of {len(q.answer.split())} "
                             f"words and no alias is short: scored as a sentence (key-fact recall), not by exact "
                             f"match; label it long, or give the short answer as an alias")
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
    warnings += _cut(sentences, f"short answers of {SENTENCE_WORDS} words or more")

    train = [(q.id, q.question) for q in qa if q.split == "train"]
    test = [(q.id, q.question) for q in qa if q.split == "test"]
    leaks = [f"possible leakage: test {t} and train {tr} ask nearly the same question (token overlap {score:.2f})"
             for tr, t, score in near_duplicates(train, test)]
    warnings += _cut(leaks, "near-duplicate train/test questions")
    return warnings
