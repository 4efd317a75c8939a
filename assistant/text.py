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
  key_terms      PROBE_STOP_WORDS    1,200.50, 10:30, 3rd, 5gb      no           exact, 3+ letters
  support_terms  CHECK_STOP_WORDS    1,200.50 (":" splits)          no           exact, 3+ letters, no 's

STOP_WORDS is scikit-learn's English list: it drops number words (two, ten, fifteen) and a few
nouns (bill, interest, fire, system) that the two shorter lists keep.
"""
from __future__ import annotations

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

# scikit-learn's ENGLISH_STOP_WORDS (the list the metric has always used), spelled out.
STOP_WORDS = frozenset("""a about above across after afterwards again against all almost alone along already also
although always am among amongst amoungst amount an and another any anyhow anyone anything anyway anywhere are around
as at back be became because become becomes becoming been before beforehand behind being below beside besides between
beyond bill both bottom but by call can cannot cant co con could couldnt cry de describe detail do done down due during
each eg eight either eleven else elsewhere empty enough etc even ever every everyone everything everywhere except few
fifteen fifty fill find fire first five for former formerly forty found four from front full further get give go had
has hasnt have he hence her here hereafter hereby herein hereupon hers herself him himself his how however hundred i ie
if in inc indeed interest into is it its itself keep last latter latterly least less ltd made many may me meanwhile
might mill mine more moreover most mostly move much must my myself name namely neither never nevertheless next nine no
nobody none noone nor not nothing now nowhere of off often on once one only onto or other others otherwise our ours
ourselves out over own part per perhaps please put rather re same see seem seemed seeming seems serious several she
should show side since sincere six sixty so some somehow someone something sometime sometimes somewhere still such
system take ten than that the their them themselves then thence there thereafter thereby therefore therein thereupon
these they thick thin third this those though three through throughout thru thus to together too top toward towards
twelve twenty two un under until up upon us very via was we well were what whatever when whence whenever where
whereafter whereas whereby wherein whereupon wherever whether which while whither who whoever whole whom whose why will
with within without would yet you your yours yourself yourselves""".split())

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
        low = tok.lower().strip("'-")
        if low in STOP_WORDS or len(low) < 2:
            sentence_start = False
            continue
        if tok[0].isupper() and not sentence_start:
            terms.append("name:" + low)
        else:
            terms.append(stem(low))
        sentence_start = False
    return terms


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
