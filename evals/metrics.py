"""Per-answer metrics: what the harness scores each answer with.

Facts, not style. The accuracy the recommendation decides on is, by the item's answer form
(`answer_form`: its label, checked against the reference's text):
  - unanswerable items: 1 if the answer is a refusal ("the documents do not say", ...);
  - short answers (answer_type `short`, or unlabelled items with aliases, when the reference is
    shorter than a sentence: assistant.corpus.model.answer_form): normalised match of the reference or an alias, either the
    whole answer or a whole-word span of it (a chat model answers "The Pro plan costs $12." for
    "$12"), or every content term of one in any order ("Every Monday at 08:00 UTC" for "Monday
    08:00 UTC"); SQuAD-normalised strict equality is also kept as `exact_match`, shown beside;
  - closed-form items (yes/no, yes/no/maybe): the option the answer gives, said first or implied
    ("Cryptocurrency isn't accepted" is No), with nothing added that contradicts the reference;
    the report decides these on option likelihood, what the model knows, and shows this beside;
  - everything else, and a "short" reference that is a sentence: key-fact recall (IDF-weighted
    recall of the reference's content terms, numbers and names counted exactly) >= KEY_FACT_PASS.
Both sides are compared with their numbers, units and dates in one spelling (evals/values.py:
"5GB" = "five gigabytes"), and an answer that negates the reference's claim fails whatever it
recalls (evals/polarity.py), as does a hedge between values ("7 days, or possibly 14"). Terms the
question names are given: key facts are what the reference adds to it. Token F1, ROUGE-L (the `rouge_score` library, the one ragas uses),
ragas' NonLLMStringSimilarity and embedding cosine are style metrics, shown beside.

A metric that cannot run is recorded as {"status": "not run", "reason": ...}: never NaN or 0.
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from dataclasses import dataclass, field

from assistant.corpus.model import answer_form
from assistant.text import NUMBER, answer_terms, fact_terms, stem

from .polarity import answers_no, contradicts, is_negated
from .values import UNITS, canonical

NUMBER_WEIGHT = 3.0  # a number weighs three times the rarest word
KEY_FACT_PASS = 0.5  # an answer that states at least half the reference's (weighted) facts counts as correct

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, references: list[str]) -> float:
    """SQuAD exact match: the normalised answer equals a normalised reference or alias."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(r) for r in references if r))


def span_match(prediction: str, references: list[str]) -> float:
    """Exact match of the whole answer or of a whole-word span of it (after normalisation)."""
    pred = f" {normalize_answer(prediction)} "
    for r in references:
        ref = normalize_answer(r)
        if ref and f" {ref} " in pred:
            return 1.0
    return 0.0


def token_f1(prediction: str, references: list[str]) -> float:
    """SQuAD token F1, the best over the reference and its aliases."""
    best = 0.0
    pred = normalize_answer(prediction).split()
    for r in references:
        ref = normalize_answer(r).split()
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, rc = common / len(pred), common / len(ref)
            best = max(best, 2 * p * rc / (p + rc))
    return best


_ROUGE = None


def rouge_l(prediction: str, references: list[str]) -> float:
    """ROUGE-L F-measure with stemming (google's rouge_score, as ragas' RougeScore uses)."""
    global _ROUGE
    if _ROUGE is None:
        from rouge_score import rouge_scorer

        _ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return max((_ROUGE.score(r, prediction)["rougeL"].fmeasure for r in references if r), default=0.0)


# -- refusals -----------------------------------------------------------------------------
_NOT = r"(?:n'?t| not)"
_REFUSAL = re.compile(
    rf"(do(es)?{_NOT} (say|mention|specify|state|contain|provide|cover|include|name|list|give)|"
    r"not (in|covered by|mentioned in|stated in|found in|given in|listed in) the (documents?|sources?|context|information)|"
    r"(can ?not|can'?t|could ?not|couldn'?t|unable to) (find|answer|determine|tell|say|provide|locate|give)|"
    r"no (information|mention|details?|data) (about|on|regarding|in|is)|no way to (tell|know|say)|"
    rf"(is|are|was|were){_NOT} (available|provided|specified|mentioned|given|stated|listed|covered|named|included)|"
    r"^\W*not (stated|given|specified|mentioned|known)|"
    r"(not|n't) (been )?(\w+ ){1,3}(in|by|from) the (documents?|sources?|context|material|articles?|help cent(re|er))|"
    rf"(is|are){_NOT} something (that )?(the|these|this|our|my|your) (\w+ ){{1,2}}(covers?|says?|mentions?|lists?|states?)|"
    r"nothing (about|on|in) (.{0,60} in )?(the|these|this|my) (\w+ )?(documents?|sources?|context|information|material)|"
    r"^\W*unknown\b|"
    rf"i (do|did){_NOT} (know|have (that|this|the|any|those))|not sure|no answer)",
    re.I)
# a guess is not a refusal, and a hedge between two values is not an answer
HEDGE = re.compile(r"\b(probably|possibly|perhaps|maybe|likely|i think|i believe|i guess|might be|may be|could be)\b",
                   re.I)


# a refusal that answers all the same: "The documents don't mention it, but it was around $120 million"
_ANSWERS_ANYWAY = re.compile(r"\b(but|however|although|though)\b.*\d", re.I)


def is_refusal(text: str) -> bool:
    """Whether the answer declines to answer (the right answer to an unanswerable item), and
    does not guess a value all the same ("Probably 4 weeks, though the documents do not say"; "The
    documents do not say, but it is about 40")."""
    text = text.replace("’", "'")
    declined = _REFUSAL.search(text)
    return bool(declined) and not (HEDGE.search(text) and NUMBER.search(text)) \
        and not _ANSWERS_ANYWAY.search(text[declined.end():])


def _numbers(text: str) -> set[str]:
    return {m.group().rstrip(".:") for m in NUMBER.finditer(canonical(text))}


_VALUE_UNIT = re.compile(r"(\d[\d.,:]*)\s?([a-z%]+)", re.I)


def wrong_unit(prediction: str, reference: str) -> bool:
    """Whether the answer gives a number of the reference with another unit ("90 hours" for
    "90 days"), or an amount in one of the reference's units that the reference does not state
    ("1 unit/kg" for "0.1 units/kg"): compared after canonical(), so "five days" and "5 days"
    agree."""
    units = set(UNITS.values())

    def pairs(text):
        return {(n, u.lower()) for n, u in _VALUE_UNIT.findall(canonical(text)) if u.lower() in units}

    want, said = pairs(reference), pairs(prediction)
    other_unit = any(n == m and u != v for n, u in want for m, v in said) and not want & said
    other_amount = any(v in {u for _, u in want} and (m, v) not in want for m, v in said)
    return other_unit or other_amount


def hedges(prediction: str, reference: str) -> bool:
    """Whether the answer offers a value the reference does not state as a guess or an
    alternative ("7 days, or possibly 14 days"; "2 or 3 months" for "3 months"; "500MB / 1GB / 5GB"
    for "5 GB")."""
    extra = _numbers(prediction) - _numbers(reference)
    if not extra:
        return False
    said = canonical(prediction)
    return bool(HEDGE.search(said) or re.search(r"\d[\w.,:]*\s+(?:\w+\s+){0,2}or\s+(?:\w+\s+)?\d", said)
                or re.search(r"\d[\w.,:]*(?:\s?[a-z%]+)?\s*/\s*\d", said))


# -- key facts ----------------------------------------------------------------------------
# A fact's terms (numbers and names exact, other words stemmed, stop words dropped) are defined in
# assistant/text.py; `content_terms` is kept as the metric's name for them.
content_terms = fact_terms


@dataclass
class IdfTable:
    """Inverse document frequency of content terms over the corpus documents (smoothed, as
    scikit-learn's: log((N + 1) / (df + 1)) + 1); terms in no document get the maximum."""

    n_docs: int = 0
    df: Counter = field(default_factory=Counter)

    @classmethod
    def from_texts(cls, texts: list[str]) -> "IdfTable":
        df = Counter()
        for t in texts:
            df.update(set(_plain(term) for term in content_terms(t)))
        return cls(len(texts), df)

    def weight(self, term: str) -> float:
        w = math.log((self.n_docs + 1) / (self.df.get(_plain(term), 0) + 1)) + 1.0
        # a number is usually the very fact asked for (a price, a deadline): a wrong one must fail
        return NUMBER_WEIGHT * self.max_weight if term.startswith("n:") else w

    @property
    def max_weight(self) -> float:
        return math.log(self.n_docs + 1) + 1.0


def _plain(term: str) -> str:
    """Document frequency is counted without the name/number marker (a name at a sentence
    start in one document is the same word elsewhere)."""
    return stem(term[5:]) if term.startswith("name:") else term


def key_fact_recall(prediction: str, references: list[str], idf: IdfTable, question: str = "") -> float:
    """IDF-weighted share of the reference's content terms that the answer states: rare terms
    (names, numbers, specific nouns) weigh most, so a vague answer scores low. Terms the question
    already names are given, not facts the answer adds, so they count only when the reference
    has no others ("What happens to exports over 50 GB?": the fact is "split into ZIP files").
    Best over aliases."""
    answer = answer_terms(prediction)
    asked = {_plain(t) for t in content_terms(question)} if question else set()
    best = 0.0
    for ref in references:
        terms = set(content_terms(ref))
        terms = {t for t in terms if _plain(t) not in asked} or terms
        if not terms:
            continue
        total = sum(idf.weight(t) for t in terms)
        hit = sum(idf.weight(t) for t in terms if t in answer)
        best = max(best, hit / total)
    return best


def states_every_term(prediction: str, references: list[str], question: str = "") -> bool:
    """Whether the answer states every content term of the reference or of an alias, in any
    order and with words between: "Every Monday at 08:00 UTC" states "Monday 08:00 UTC", which a
    span match misses. Terms the question names are given, as in key_fact_recall: "12." answers
    "How much is it per user per month in US dollars?" ("$12 per user per month")."""
    said = answer_terms(prediction)
    asked = {_plain(t) for t in content_terms(question)} if question else set()
    return any(terms and ({t for t in terms if _plain(t) not in asked} or terms) <= said
               for terms in (set(content_terms(r)) for r in references))


def substitutes_a_number(prediction: str, references: list[str]) -> bool:
    """Whether the answer leaves out a number of the reference and states one that neither the
    reference nor an alias does: "fewer than 50 people" for "fewer than 20 people", which the
    rest of a long answer's words would carry past key-fact recall."""
    said = _numbers(prediction)
    return bool(_numbers(references[0]) - said) and bool(said - set().union(*map(_numbers, references)))


# -- the decision accuracy ------------------------------------------------------------------
CLOSED_FORM = ("yes/no", "yes/no/maybe")


def closed_form_options(answer_type: str | None) -> list[str] | None:
    if answer_type == "yes/no":
        return ["Yes", "No"]
    if answer_type == "yes/no/maybe":
        return ["Yes", "No", "Maybe"]
    return None


# openings that begin with an option word and are not that answer ("No problem, you can...")
_NOT_AN_OPTION = re.compile(r"^\W*no (problem|doubt|question|worries)\b", re.I)
MAYBE = re.compile(r"\b(maybe|possibly|perhaps|it depends|depends on|depending on|only (if|when|within|in|for|after|"
                   r"once|at)|unless|not always|sometimes|in some cases|except|as long as|provided( that)?|"
                   r"generally|usually|in most cases)\b", re.I)
# a yes or a no with a condition is a maybe where maybe is an option ("Yes, as long as the browser
# trusts it" for "Maybe; only if the browser trusts it"); a bare "if" or "once" states one
CONDITION = re.compile(MAYBE.pattern + r"|\b(if|once|but only)\b", re.I)
# where there is no maybe, an exception the reference does not make is another claim: "No, but in
# an emergency it can go ahead" for "No, no wristband, no transfusion". An exception ("but", "if",
# "unless"), not a restriction that may restate the reference's ("only in the first 30 days")
QUALIFIED = re.compile(r"\b(but|if|unless|except|as long as|provided)\b", re.I)
# the other way round: an answer that rules out the exception the reference makes ("Yes, always,
# whatever the cost" for "Yes, unless it would cause unjustifiable hardship")
ABSOLUTE = re.compile(r"\b(always|in (all|every) cases?|whatever|regardless|no matter|without (any )?exception|"
                      r"under any circumstances|unconditionally)\b", re.I)
# a yes or a no said at the end, after the reasons: "Only if the agreement sets one out, and here it doesn't, so no."
_CONCLUSION = re.compile(r"\b(?:so|therefore|thus|hence|the (?:short )?answer is)[,:]?\s+(yes|no)\b(?=\s*(?:[^\w\s]|$))",
                         re.I)


# "No fee may be charged": "no" before a noun is a determiner, not the option; the option word is
# followed by punctuation, the end, or a pronoun or article that starts the rest of the answer
_OPTION_WORD = re.compile(r"^\W*(yes|no|maybe)\b(?=\s*(?:[^\w\s]|$)|\s+(?:it|you|they|he|she|we|i|the|a|an|this|"
                          r"that|there|not|only|but|if|unless|as|because|for|in|on|at|with|after|before|once|"
                          r"when|since|provided|except)\b)", re.I)


def begins_with_option(text: str, options: list[str]) -> int | None:
    """The option an answer's first word is (its form: "No fee is charged" begins with "No")."""
    if _NOT_AN_OPTION.search(text):
        return None
    first = normalize_answer(text).split()[:1]
    return next((i for i, opt in enumerate(options) if first == [opt.lower()]), None)


def closed_form_label(reference: str, options: list[str]) -> int | None:
    """Which option the reference answer gives (its first word: "Yes, within 30 days." -> Yes),
    where that word is the option and not a determiner ("No fee is charged" gives none)."""
    return begins_with_option(reference, options) if _OPTION_WORD.search(reference) else None


def implied_option(prediction: str, options: list[str], question: str = "", conditions: bool = True) -> int | None:
    """The option an answer that does not begin with one gives by what it says: a condition
    ("only if", "unless") is Maybe where Maybe is an option (unless `conditions` is off: the
    reference's own yes or no carries one); a refusal gives none; otherwise No when it says no
    ("Cryptocurrency isn't accepted", evals/polarity.answers_no), else Yes."""
    names = [o.lower() for o in options]
    prediction = _NOT_AN_OPTION.sub("", prediction)
    if not prediction.strip() or is_refusal(prediction):
        return None
    concluded = _CONCLUSION.findall(prediction)
    if concluded and concluded[-1].lower() in names:
        return names.index(concluded[-1].lower())
    if "maybe" in names and conditions and MAYBE.search(prediction):
        return names.index("maybe")
    return names.index("no") if answers_no(prediction, question) else names.index("yes")


def _rest(text: str) -> str:
    """A closed-form answer without its option word ("Yes, with a fine" -> "with a fine"; "No fee
    is charged" keeps its "No")."""
    text = _NOT_AN_OPTION.sub("", text)
    m = _OPTION_WORD.search(text)
    return re.sub(r"^\W*", "", text[m.end():]) if m else text


def closed_form_right(prediction: str, reference: str, options: list[str], question: str = "") -> bool:
    """The answer gives the reference's option (said first, or implied), and what it adds does not
    contradict the reference or state another value where the reference states one."""
    label = closed_form_label(reference, options)
    said = closed_form_label(prediction, options)
    # a condition makes a yes or a no a maybe, unless the reference's yes or no has one itself
    # ("Yes, but it must be witnessed": "Yes, as long as it is witnessed" gives its option)
    conditions = label is None or options[label] == "Maybe" or not (CONDITION.search(_rest(reference))
                                                                     or QUALIFIED.search(_rest(reference)))
    if said is None:
        said = implied_option(prediction, options, question, conditions)
    elif "Maybe" in options and options[said] != "Maybe" and conditions and CONDITION.search(_rest(prediction)):
        said = options.index("Maybe")
    if label is None or said != label:
        return False
    rest, ref_rest = _rest(prediction), _rest(reference)
    if "Maybe" not in options and QUALIFIED.search(rest) and not QUALIFIED.search(ref_rest):
        return False
    if QUALIFIED.search(ref_rest) and ABSOLUTE.search(rest) and not ABSOLUTE.search(ref_rest):
        return False
    wanted, stated = _numbers(ref_rest), _numbers(rest)
    wrong_value = bool(wanted and stated and not wanted & stated) or wrong_unit(rest, ref_rest)
    # the question's own claim is what the yes or the no answers: the rest is checked against what
    # the reference adds to it
    return not (wrong_value or contradicts(rest, ref_rest, question) or hedges(rest, ref_rest))


def score_answer(prediction: str, item: dict, idf: IdfTable) -> dict:
    """All text metrics of one answer. `item` has reference, aliases, kind, answer_type, and
    the question (whose terms are given, not facts to recall)."""
    refs = [item["reference"], *item.get("aliases", [])]
    said, wanted = canonical(prediction), [canonical(r) for r in refs]
    scores = {
        "exact_match": exact_match(prediction, refs),
        "span_match": span_match(said, wanted),
        "token_f1": token_f1(prediction, refs),
        "rouge_l": rouge_l(prediction, refs),
        "key_fact_recall": key_fact_recall(said, wanted, idf, canonical(item.get("question") or "")),
        "refusal": float(is_refusal(prediction)),
        # a negated question is answered in its own words: "When may an eviction not be carried
        # out?" "Evictions can't be carried out on Sundays" negates nothing of "On a Sunday"
        "contradiction": float(contradicts(said, wanted[0]) and not is_negated(item.get("question") or "")),
    }
    unsure = hedges(prediction, item["reference"]) or wrong_unit(prediction, item["reference"])
    form = answer_form(item.get("answer_type"), item.get("aliases", []), item["reference"])
    if item.get("kind") == "unanswerable":
        scores["accuracy"], scores["accuracy_rule"] = scores["refusal"], "refusal"
    elif form == "short":
        stated = scores["span_match"] or states_every_term(said, wanted, canonical(item.get("question") or ""))
        ok = stated and not scores["contradiction"] and not unsure
        scores["accuracy"], scores["accuracy_rule"] = float(ok), "exact match"
    elif form in CLOSED_FORM:
        # the option the generated answer gives, said first or implied (the report decides
        # closed-form items on option likelihood and shows this beside); form_ok: it began
        # with an option word, as the question asked
        opts = closed_form_options(form)
        scores["accuracy"] = float(closed_form_right(prediction, item["reference"], opts, item.get("question") or ""))
        scores["accuracy_rule"] = "yes/no, said or implied"
        scores["form_ok"] = float(begins_with_option(prediction, opts) is not None)
    else:
        # a sentence labelled short also passes by stating one of its short forms ("Just one." for
        # "No more than 1 request, unless ...", alias "one")
        stated = scores["key_fact_recall"] >= KEY_FACT_PASS or (
            form == "sentence" and span_match(said, wanted[1:]) > 0)
        ok = stated and not scores["contradiction"] and not unsure and not substitutes_a_number(prediction, refs)
        scores["accuracy"] = float(ok)
        scores["accuracy_rule"] = ("key-fact recall (labelled short, scored as a sentence)" if form == "sentence"
                                   else "key-fact recall")
    return scores


# -- metrics that need a model or a library ---------------------------------------------------
# ragas' LLM metrics with the opt-in --judge model (evals/judge.py), on the test answers
JUDGE_METRICS = ("judge_faithfulness", "judge_answer_correctness")


def not_run(reason: str) -> dict:
    return {"status": "not run", "reason": reason}


def semantic_similarity(predictions: list[str], references: list[str], embedder) -> list[float] | dict:
    """Cosine of the answer's and the reference's embeddings (the run's embedding model)."""
    if embedder is None:
        return not_run("no embedding model was given to the harness")
    try:
        a = embedder.encode(predictions)
        b = embedder.encode(references)
    except Exception as e:  # a metric failure is a finding, not a crash of the whole evaluation
        return not_run(f"embedding failed: {type(e).__name__}: {e}")
    return [float(x) for x in (a * b).sum(axis=1)]


def _windows(text: str, size: int) -> list[str]:
    """Passages of a reference document about as long as a retrieved chunk, a quarter-length
    apart: a Levenshtein similarity between a 600-character chunk and a whole 5,000-character
    document is always tiny, so the ragas context metrics compare like with like (any chunk of
    the document overlaps one passage by at least 7/8)."""
    size = max(size, 50)
    if len(text) <= size:
        return [text]
    step = max(size // 4, 1)
    return [text[i:i + size] for i in range(0, len(text) - size + step, step)]


def answer_passage(doc_text: str, reference: str, size: int) -> str:
    """The passage of a reference document that states the reference answer (most of its
    content terms): what a retriever must find."""
    want = set(content_terms(reference))
    return max(_windows(doc_text, size), key=lambda w: len(want & set(content_terms(w))))


def ragas_scores(records: list[dict], reference_docs: dict[str, str]) -> dict[str, list | dict]:
    """ragas' non-LLM metrics: NonLLMStringSimilarity for every answer; for answers with
    retrieved contexts and reference documents, NonLLMContextPrecisionWithReference (are the
    retrieved chunks passages of the reference documents?) and NonLLMContextRecall (was the
    passage of each reference document that states the answer retrieved?). One list per metric
    (None where the metric does not apply to that record), or a not-run entry with the reason."""
    import os
    import warnings

    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    names = ("ragas_string_similarity", "ragas_context_precision", "ragas_context_recall")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ragas.dataset_schema import SingleTurnSample
            from ragas.metrics import (NonLLMContextPrecisionWithReference, NonLLMContextRecall,
                                       NonLLMStringSimilarity)
        sim, prec, rec = NonLLMStringSimilarity(), NonLLMContextPrecisionWithReference(), NonLLMContextRecall()
    except Exception as e:
        return {k: not_run(f"ragas unavailable: {type(e).__name__}: {e}") for k in names}
    out: dict[str, list] = {k: [] for k in names}
    for r in records:
        out["ragas_string_similarity"].append(
            float(sim.single_turn_score(SingleTurnSample(reference=r["reference"], response=r["answer"]))))
        retrieved = [c["text"] for c in r.get("contexts", [])]
        refs = [reference_docs[d] for d in r.get("doc_ids", []) if d in reference_docs]
        if not retrieved or not refs:
            out["ragas_context_precision"].append(None)
            out["ragas_context_recall"].append(None)
            continue
        size = int(sum(len(c) for c in retrieved) / len(retrieved))
        passages = [w for d in refs for w in _windows(d, size)]
        out["ragas_context_precision"].append(float(prec.single_turn_score(
            SingleTurnSample(retrieved_contexts=retrieved, reference_contexts=passages))))
        needed = [answer_passage(d, r["reference"], size) for d in refs]
        out["ragas_context_recall"].append(float(rec.single_turn_score(
            SingleTurnSample(retrieved_contexts=retrieved, reference_contexts=needed))))
    return out
