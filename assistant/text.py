"""The words of a text, in one place: normalising and tokens, stop words, stemming, and the terms
that state a fact. Three parts of the project ask whether a text states a fact:

- the metric (evals/metrics.py, key-fact recall, the accuracy of long answers): `fact_terms`
  for the reference, `answer_terms` for the answer;
- the fine-tuning probe and RAFT's gold chunk (assistant/finetune.py: does the base model
  already know a pair's answer? which chunk states it?): `key_terms`;
- the corpus check (assistant/corpus/quality.py: answers with terms their documents lack):
  `support_terms`; and `tokens` for near-duplicate questions and the seeded split's key.

They share the idea (a fact is its numbers, matched exactly, and its content words, stop words
dropped) and differ in details that change what they measure, so each keeps its own exact
behaviour here, side by side, until one of them is changed on purpose:

                 stop words          numbers                        names        words
  fact_terms     STOP_WORDS (318)    n:1200.50, n:10:30 (no commas)  name:visa    Porter stems, 2+ letters
                                                                   name:u (a capital alone: Shift + U)
  key_terms      PROBE_STOP_WORDS    1,200.50, 10:30, 3rd, 5gb      no           exact, 3+ letters
  support_terms  CHECK_STOP_WORDS    1,200.50 (":" splits)          no           exact, 3+ letters, no 's

STOP_WORDS is scikit-learn's English list: it drops number words (two, ten, fifteen) and a few
nouns (bill, interest, fire, system) that the two shorter lists keep.
"""
from __future__ import annotations

import functools
import re

# -- normalising and tokens -------------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, curly apostrophes straight."""
    return text.lower().replace("’", "'")


def tokens(text: str) -> list[str]:
    """The runs of letters and digits of the normalised text: for comparing questions (near
    duplicates) and as the seeded split's key, so punctuation and case change neither."""
    return re.findall(r"[a-z0-9]+", normalise(text))


# -- stop words -------------------------------------------------------------------------------

@functools.cache
def _stop_words() -> frozenset[str]:
    """scikit-learn's English list, the one the metric has always used (from the library, not a
    copy); imported on first use, since scikit-learn takes about a second to import."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def __getattr__(name: str):
    if name == "STOP_WORDS":  # text.STOP_WORDS, without the import cost for those who never ask
        return _stop_words()
    raise AttributeError(name)

# The function words the probe and the corpus check both drop (all in STOP_WORDS but did, does,
# shall and yes), and what each adds to them.
FUNCTION_WORDS = frozenset("""a an the of to in on at for and or is are was were be been it its this that these those
with by as from into than then there their they them you your we our us he she his her not no yes do does did can could
will would should may must shall have has had if such any all each per also only about what which who whom when where
why how""".split())
PROBE_STOP_WORDS = FUNCTION_WORDS | {"but", "being", "i", "me", "my", "might", "so", "via", "just"}
CHECK_STOP_WORDS = FUNCTION_WORDS | {"after", "before", "under", "over", "more", "less", "here", "other", "most", "some"}


# -- stemming ---------------------------------------------------------------------------------

_STEMMER = None


def stem(word: str) -> str:
    """Porter's stem (NLTK's PorterStemmer, the one rouge_score uses): the metric's scores depend
    on it. PyStemmer is no drop-in replacement: of the 6,430 words of the shipped corpora, its
    Snowball English stemmer (BM25's, in rag.py) stems 229 differently, and even its "porter" 154."""
    global _STEMMER
    if _STEMMER is None:
        from nltk.stem import PorterStemmer

        _STEMMER = PorterStemmer()
    return _STEMMER.stem(word)


# -- a fact's terms: the metric's ---------------------------------------------------------------

NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def fact_terms(text: str) -> list[str]:
    """The fact-bearing terms of a text: numbers exactly (`n:30`), names exactly (`name:visa`:
    capitalised words not at a sentence start), other non-stopwords stemmed."""
    terms = []
    for m in NUMBER.finditer(text):
        terms.append("n:" + m.group().replace(",", "").rstrip(".:"))
    sentence_start = True
    for m in re.finditer(r"[A-Za-z][A-Za-z'\-]*|[.!?]", text):
        tok = m.group()
        if tok in ".!?":
            sentence_start = True
            continue
        low = tok.lower().strip("'-").removesuffix("'s")  # the landlord's = the landlord
        if _is_letter_name(text, m, sentence_start):  # "Shift + U", "hepatitis B": the letter is the fact
            terms.append("name:" + low)
            sentence_start = False
            continue
        if low in _stop_words() or len(low) < 2:
            sentence_start = False
            continue
        if tok[0].isupper() and not sentence_start:
            terms.append("name:" + low)
        else:
            terms.append(stem(low))
        sentence_start = False
    return terms


def _is_letter_name(text: str, m: re.Match, sentence_start: bool) -> bool:
    """A capital letter standing alone inside a sentence names something (a key, a plan, a form,
    a hepatitis type), unlike "I" or a letter glued to a unit ("mmol/L", "°C") or a word ("3-D")."""
    before = text[m.start() - 1] if m.start() else " "
    return (m.group() != "I" and len(m.group()) == 1 and m.group().isupper() and not sentence_start
            and (before.isspace() or before in "(+"))


def answer_terms(text: str) -> set[str]:
    """An answer's terms, matched loosely in case: a name in the reference matches the same
    word anywhere in the answer, capitalised or not."""
    out = set()
    for t in fact_terms(text):
        out.add(t)
        if t.startswith("name:"):
            out.add(stem(t[5:]))
    for m in _WORD.finditer(text):
        low = m.group().lower().strip("'-")
        out.add("name:" + low)
    return out


# -- the probe's and the corpus check's terms -------------------------------------------------

def key_terms(text: str) -> set[str]:
    """Content words and numbers of a text, lower-cased (punctuation and stop words dropped)."""
    words = re.findall(r"[a-z0-9]+(?:[.,:][0-9]+)*", text.lower())
    return {w for w in words if w not in PROBE_STOP_WORDS and (len(w) > 2 or w.isdigit())}


SUPPORT_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
SUPPORT_WORD = re.compile(r"[a-z][a-z0-9'-]+")


def support_terms(text: str) -> tuple[list[str], list[str]]:
    """(numbers, content words) of a normalised text, each once, in order: what the corpus check
    looks for in an answer's documents."""
    text = normalise(text)
    numbers = list(dict.fromkeys(SUPPORT_NUMBER.findall(text)))
    words = [w.removesuffix("'s").strip("'-") for w in SUPPORT_WORD.findall(text)]
    return numbers, [w for w in dict.fromkeys(words) if len(w) > 2 and w not in CHECK_STOP_WORDS]
