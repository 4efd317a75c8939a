"""Each metric on hand-computed examples."""
import math

import pytest

from evals import metrics as m

DOCS = [
    "Avalon accepts Visa, Mastercard and American Express. Invoices are sent monthly.",
    "Avalon Drive costs $12 per user per month. Avalon support answers within 24 hours.",
    "To cancel Avalon, open Settings. Avalon refunds within 30 days.",
    "Avalon mobile apps run on iOS and Android. Avalon stores files.",
]
IDF = m.IdfTable.from_texts(DOCS)


def test_normalize_and_exact_match():
    assert m.normalize_answer("The  Pro plan!") == "pro plan"
    assert m.exact_match("the Pro Plan.", ["Pro plan"]) == 1.0
    assert m.exact_match("Pro plan costs more", ["Pro plan"]) == 0.0
    assert m.exact_match("Business", ["Pro", "business"]) == 1.0  # alias accepted


def test_span_match_needs_whole_words():
    assert m.span_match("It costs $12 per month.", ["$12"]) == 1.0
    assert m.span_match("It costs $120 per month.", ["$12"]) == 0.0


def test_token_f1_hand_computed():
    # pred tokens: cat sat mat (3); ref: cat sat on mat (4) -> common 3, p=1, r=.75, f1=6/7
    assert m.token_f1("the cat sat mat", ["the cat sat on the mat"]) == pytest.approx(6 / 7)
    assert m.token_f1("dog", ["cat"]) == 0.0


def test_rouge_l_hand_computed():
    # LCS of "the cat sat" / "a cat sat down": cat sat = 2; p=2/4, r=2/3 -> f=4/7
    assert m.rouge_l("a cat sat down", ["the cat sat"]) == pytest.approx(4 / 7)


def test_idf_weights_rare_terms_more():
    assert IDF.weight("name:visa") > IDF.weight("name:avalon")
    assert IDF.weight("name:iOS") == pytest.approx(math.log(5 / 2) + 1)
    assert IDF.weight("n:12") == pytest.approx(3 * (math.log(5) + 1))


def test_key_fact_recall_facts_not_style():
    ref = "Avalon accepts Visa, Mastercard and American Express."
    vague = m.key_fact_recall("Credit cards are accepted at Avalon.", [ref], IDF)
    right = m.key_fact_recall("You can pay with Visa, Mastercard or American Express.", [ref], IDF)
    assert vague < 0.35
    assert right > 0.7
    assert right >= m.KEY_FACT_PASS > vague


def test_key_fact_recall_counts_numbers_exactly():
    ref = "Refunds are given within 30 days."
    assert m.key_fact_recall("Refunds are given within 30 days of purchase.", [ref], IDF) == pytest.approx(1.0)
    assert m.key_fact_recall("Refunds are given within 14 days.", [ref], IDF) < m.KEY_FACT_PASS


def test_refusals():
    for text in ("The documents do not say.", "I cannot find that in the documents.", "That is not in the documents.",
                 "I don't know.", "Unknown from these sources.", "Nothing in the documents covers parking fees.",
                 "There is nothing about a gym in the staff information I have."):
        assert m.is_refusal(text), text
    assert not m.is_refusal("Avalon Drive costs $12 per user per month.")
    # declining, then answering all the same, is a guess
    assert not m.is_refusal("The documents do not say, but it employs about 40 people.")


def test_score_answer_picks_the_rule():
    s = m.score_answer("It is $12.", {"reference": "$12", "aliases": ["12 dollars"], "kind": "unseen", "answer_type": "short"}, IDF)
    assert (s["accuracy"], s["accuracy_rule"]) == (1.0, "exact match")
    s = m.score_answer("Sure, it costs $12.", {"reference": "The documents do not say.", "aliases": [], "kind": "unanswerable"}, IDF)
    assert (s["accuracy"], s["accuracy_rule"]) == (0.0, "refusal")
    s = m.score_answer("No, only in the first 30 days.", {"reference": "No. Refunds are within 30 days.", "aliases": [],
                                                         "kind": "paraphrase", "answer_type": "yes/no"}, IDF)
    assert s["accuracy"] == 1.0
    s = m.score_answer("Credit cards.", {"reference": "Avalon accepts Visa, Mastercard and American Express.",
                                         "aliases": [], "kind": "paraphrase", "answer_type": "long"}, IDF)
    assert (s["accuracy"], s["accuracy_rule"]) == (0.0, "key-fact recall")


def test_semantic_similarity_not_run_is_recorded():
    assert m.semantic_similarity(["a"], ["b"], None)["status"] == "not run"


def test_semantic_similarity_with_embedder(tiny_embedder):
    sims = m.semantic_similarity(["refunds within 30 days", "fox"], ["refunds within 30 days", "refunds"], tiny_embedder)
    assert sims[0] == pytest.approx(1.0, abs=1e-4) and sims[1] < sims[0]


def test_ragas_non_llm_metrics():
    doc = "Avalon accepts Visa, Mastercard and American Express. " * 3 + "Unrelated text about storage quotas. " * 20
    recs = [{"reference": "Visa and Mastercard", "answer": "Visa and Mastercard", "doc_ids": ["d"],
             "contexts": [{"text": doc[:150]}, {"text": "zzzz qqqq " * 15}]},
            {"reference": "x", "answer": "y", "doc_ids": [], "contexts": []}]
    out = m.ragas_scores(recs, {"d": doc})
    assert out["ragas_string_similarity"][0] == pytest.approx(1.0)
    assert out["ragas_context_precision"][0] == pytest.approx(1.0, abs=1e-6)  # relevant chunk ranked first
    assert out["ragas_context_recall"][0] == 1.0
    assert out["ragas_context_precision"][1] is None  # not applicable: no contexts


# -- values, polarity and the answer form ---------------------------------------------------------

@pytest.mark.parametrize("a, b", [("5GB", "5 GB"), ("five gigabytes", "5 GB"), ("$12.00", "12 dollars"),
                                  ("2/5/20", "2020-02-05"), ("February 5, 2020", "2020-02-05"),
                                  ("5th of February 2020", "2020-02-05"), ("15 per cent", "15%"),
                                  ("1,200 USD", "$1200"), ("thirty days", "30 days"),
                                  ("half a gigabyte", "500 MB"), ("four and a half hours", "4.5 hours"),
                                  ("a quarter of an hour", "15 minutes"), ("a day", "24 hours"),
                                  ("ten referrals", "10 referrals"), ("US dollars", "USD"),
                                  ("twenty-four hours", "24 hours"), ("one hundred and twenty days", "120 days"),
                                  ("two thousand five hundred crowns", "2,500 crowns"), ("a fortnight", "14 days"),
                                  ("six in the evening", "6 pm"), ("7 o'clock in the morning", "07:00"),
                                  ("noon", "12 pm")])
def test_values_are_compared_by_value_not_spelling(a, b):
    from evals.values import canonical

    assert canonical(a) == canonical(b)
    item = {"reference": b, "aliases": [], "kind": "unseen", "answer_type": "short"}
    assert m.score_answer(f"It is {a}.", item, IDF)["accuracy"] == 1.0


def test_a_different_value_is_still_wrong():
    item = {"reference": "5 GB", "aliases": [], "kind": "unseen", "answer_type": "short"}
    assert m.score_answer("50 GB", item, IDF)["accuracy"] == 0.0
    assert m.score_answer("2/6/20", {**item, "reference": "2020-02-05"}, IDF)["accuracy"] == 0.0
    # a rate is no amount: "twice a day" is not "2 days"; "once an hour" keeps its words
    from evals.values import canonical

    assert canonical("twice a day") == "twice a day" and canonical("15 units an hour") == "15 units an hour"
    # an amount in the reference's unit that the reference does not state is a wrong value
    dose = {**item, "reference": "0.1 units/kg per hour, up to a maximum of 15 units per hour.", "answer_type": "long"}
    assert m.score_answer("1 unit/kg per hour, max 15 units an hour.", dose, IDF)["accuracy"] == 0.0
    assert m.score_answer("0.1 units/kg an hour, at most fifteen units an hour.", dose, IDF)["accuracy"] == 1.0


def test_a_key_or_a_type_named_by_one_letter_must_be_the_same_letter():
    """Seen on support's val rewordings: "Shift + F." was scored right against "Shift + U." (one
    letter was no term, so "Shift" alone stated every term)."""
    item = {"reference": "Shift + U.", "aliases": [], "kind": "paraphrase", "answer_type": "short"}
    assert m.score_answer("Shift + F.", item, IDF)["accuracy"] == 0.0
    assert m.score_answer("Press Shift+U in the web app.", item, IDF)["accuracy"] == 1.0
    assert m.score_answer("Hepatitis C.", {**item, "reference": "Hepatitis B."}, IDF)["accuracy"] == 0.0
    assert m.score_answer("2.0 mmol/l or more", {**item, "reference": "2.0 mmol/L or more."}, IDF)["accuracy"] == 1.0


def test_a_short_answer_may_state_its_terms_in_another_order():
    item = {"reference": "On Mondays at 08:00 UTC.", "aliases": ["Monday 08:00 UTC"], "kind": "unseen",
            "answer_type": "short"}
    assert m.score_answer("Every Monday at 8 a.m. UTC.", item, IDF)["accuracy"] == 1.0
    assert m.score_answer("Every Tuesday at 8 a.m. UTC.", item, IDF)["accuracy"] == 0.0


@pytest.mark.parametrize("answer, reference, expected", [
    ("The Cambridge Belfry does not have a restaurant.", "There is a restaurant and a bar at the Cambridge Belfry.", True),
    ("Refunds are not available.", "Refunds are available within 30 days, but not for digital goods.", True),
    ("Rice House has outdoor seating.", "Rice House does not offer outdoor seating at this time.", True),
    # the same polarity, however phrased
    ("The Rice House does not have outdoor seating.", "Rice House does not offer outdoor seating at this time.", False),
    ("Outdoor seating is not offered at Rice House.", "Rice House does not offer outdoor seating at this time.", False),
    ("It is open Monday to Saturday; it is not open on Sundays.", "The shop is not open on Sundays.", False),
    ("Payment is due no later than 30 days after the invoice.", "Payment is due within 30 days of the invoice.", False),
    ("You can get a refund within 30 days.", "Refunds are available within 30 days, but not for digital goods.", False),
    # a word and its opposite, without a negation
    ("They are given before the dialysis session starts.", "They are given after the dialysis session has finished.",
     True),
    ("They are given after the dialysis session.", "They are given after the dialysis session has finished.", False),
    # the other party, or the un- form of the reference's word, states the opposite claim
    ("The landlord pays for the alteration and its removal.", "The tenant pays for the alteration and its removal.",
     True),
    ("The party relying on it must show it is unreasonable.", "The party relying on it must show it is reasonable.",
     True),
    ("Allow 3 calendar days for the notice.", "Allow 3 working days for the notice.", True),
    # "since 1 July 2022" dates the clause; it does not start another one
    ("Ending a tenancy without grounds has not been possible since 1 July 2022.",
     "No-grounds terminations were abolished from 1 July 2022.", False),
])
def test_contradiction_is_a_clause_of_opposite_polarity(answer, reference, expected):
    from evals.polarity import contradicts

    assert contradicts(answer, reference) is expected


def test_a_negated_answer_fails_whatever_it_recalls():
    item = {"reference": "There is a restaurant and a bar at the Cambridge Belfry.", "aliases": [], "kind": "unseen",
            "answer_type": "long"}
    wrong = m.score_answer("The Cambridge Belfry does not have a restaurant.", item, IDF)
    assert wrong["key_fact_recall"] >= m.KEY_FACT_PASS and wrong["accuracy"] == 0.0
    assert m.score_answer("The Cambridge Belfry has a restaurant and a bar.", item, IDF)["accuracy"] == 1.0


def test_a_short_label_on_a_sentence_is_scored_as_a_sentence():
    item = {"reference": "Rice House does not offer outdoor seating at this time.", "aliases": ["no"],
            "kind": "unseen", "answer_type": "short"}
    s = m.score_answer("The Rice House does not have outdoor seating.", item, IDF)
    assert s["exact_match"] == 0.0 and s["accuracy"] == 1.0
    assert s["accuracy_rule"] == "key-fact recall (labelled short, scored as a sentence)"
    # aliases alone no longer make a sentence short
    from assistant.corpus.model import answer_form

    assert answer_form(None, ["an alias"], item["reference"]) == "sentence"
    assert answer_form(None, ["an alias"], "$12") == "short"
    assert answer_form("long", [], "$12") == "long"


def test_the_decision_agrees_with_the_labelled_set():
    """A floor under the agreement on the dev part, the answers read while writing the rules
    (benchmarks/scorer_agreement.py --part dev: kappa 0.805 on 473, one wrong negation of 38
    passed, when this was last changed): a change to the scorer that loses it fails here. The
    held-out part is a measurement, quoted by the benchmark, not a floor (0.46 on 170 then)."""
    import json
    from pathlib import Path

    from sklearn.metrics import cohen_kappa_score

    from assistant.corpus import DOMAINS, resolve_corpus

    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "scorer_agreement.jsonl").open()]
    rows = [r for r in rows if r.get("part", "dev") == "dev"]
    idf = m.IdfTable.from_texts([d.text for dm in DOMAINS for d in resolve_corpus(dm).documents])
    decided = [m.score_answer(r["answer"], {**r, "aliases": r.get("aliases", [])}, idf)["accuracy"] >= 0.5 for r in rows]
    assert cohen_kappa_score([r["correct"] for r in rows], decided) >= 0.78
    wrong_negations = [d for r, d in zip(rows, decided) if r["case"] == "negation" and not r["correct"]]
    assert sum(wrong_negations) <= 1 and len(wrong_negations) >= 30


@pytest.mark.parametrize("answer, reference, answer_type, right", [
    ("Cryptocurrency isn't accepted.", "No, Avalon does not accept cryptocurrency.", "yes/no", True),
    ("It does count as downtime.", "Yes, emergency maintenance counts as downtime.", "yes/no", True),
    ("It doesn't — holiday lets under 28 days are outside the Code.", "No, the Code does not apply.", "yes/no", True),
    ("No problem, you can buy more seats.", "Yes, you can buy more seats than members.", "yes/no", True),
    ("Only if it is clinically essential.", "Maybe; only if the move is clinically essential.", "yes/no/maybe", True),
    ("The documents do not say.", "No, files are deleted only from the device.", "yes/no", False),
    ("Yes, with a fine of up to 30,000 crowns.", "Yes, with a fine of up to 3,000 crowns.", "yes/no", False),
    ("No, although executable files such as .exe are blocked.",
     "No, Avalon Drive does not block any file type; uploads are scanned.", "yes/no", False),
])
def test_a_closed_form_answer_is_read_for_the_option_it_gives(answer, reference, answer_type, right):
    item = {"question": "", "reference": reference, "aliases": [], "kind": "unseen", "answer_type": answer_type}
    s = m.score_answer(answer, item, IDF)
    assert s["accuracy"] == float(right)
    assert s["form_ok"] == float(answer.split()[0].strip(",").lower() in ("yes", "no", "maybe")
                                 and not answer.startswith("No problem"))


@pytest.mark.parametrize("answer, reference, answer_type, right", [
    # "No" before a noun is a determiner: the sentence says no, and is read whole
    ("No fee may be charged for a reminder letter.", "No, a landlord must not charge a fee for a reminder letter.",
     "yes/no", True),
    # a yes with a condition is a maybe where maybe is an option...
    ("Yes, as long as the manager signs the form.", "Maybe; only if the manager signs the form.", "yes/no/maybe", True),
    ("Yes, as long as the manager signs the form.", "Yes, the form needs no signature.", "yes/no/maybe", False),
    # ...but not where the reference's own yes carries a condition
    ("Yes, as long as a witness watches.", "Yes, but a witness must watch, in person or by video.", "yes/no/maybe", True),
    # where there is no maybe, an exception the reference does not make is another claim
    ("No, but in an emergency it can go ahead with a verbal check.", "No, never without a wristband.", "yes/no", False),
    ("No, only in the first 30 days.", "No. Refunds are within 30 days.", "yes/no", True),
])
def test_a_condition_or_an_exception_changes_the_option(answer, reference, answer_type, right):
    item = {"question": "", "reference": reference, "aliases": [], "kind": "unseen", "answer_type": answer_type}
    s = m.score_answer(answer, item, IDF)
    assert s["accuracy"] == float(right)
    assert s["form_ok"] == 1.0  # each begins with an option word, which is the answer's form


def test_hedges_units_times_and_guesses():
    short = {"reference": "7 days", "aliases": [], "kind": "unseen", "answer_type": "short"}
    assert m.score_answer("I think it's 7 days, or possibly 14 days.", short, IDF)["accuracy"] == 0.0
    assert m.score_answer("7 days", short, IDF)["accuracy"] == 1.0
    gb = {"reference": "5 GB.", "aliases": [], "kind": "paraphrase", "answer_type": "short"}
    assert m.score_answer("500MB / 1000MB / 250MB = 1.5 GB / 5GB / 100", gb, IDF)["accuracy"] == 0.0  # a scattershot
    assert m.score_answer("5 GB", gb, IDF)["accuracy"] == 1.0
    long = {"reference": "Admins can recover them for 90 days.", "aliases": [], "kind": "unseen", "answer_type": "long"}
    assert m.score_answer("Admins can recover them for 90 hours.", long, IDF)["accuracy"] == 0.0
    from evals.values import canonical

    assert canonical("8 a.m.") == canonical("08:00") and canonical("6 pm") == "18:00"
    assert canonical("50 000 items") == "50000 items"
    # spelled words that are a list, not one number, stay apart; a day named with the hour is kept
    assert canonical("three four") == "3 4" and canonical("twenty thirty") == "20 30"
    assert canonical("9 o'clock the next business morning") == "09:00 the next business morning"
    assert m.is_refusal("Not stated.") and not m.is_refusal("Probably 4 weeks, though the documents do not say.")


def test_terms_the_question_names_are_not_facts_to_recall():
    item = {"question": "What happens to exports larger than 50 GB?", "reference": "Exports larger than 50 GB are "
            "split into several ZIP files.", "aliases": [], "kind": "unseen", "answer_type": "long"}
    assert m.score_answer("Exports larger than 50 GB are deleted.", item, IDF)["accuracy"] == 0.0
    assert m.score_answer("They are split into ZIP files.", item, IDF)["accuracy"] == 1.0


@pytest.mark.parametrize("answer, question, reference, answer_type, aliases, right", [
    # a yes or a no said after the reasons, or a bare "not" softened by an adverb
    ("Only if the agreement sets out a fair method, and here it doesn't, so no.",
     "Can the landlord charge for the shared meter when the agreement sets out no method?",
     "No, not unless the agreement sets out a fair method of apportioning it.", "yes/no", [], True),
    ("Not usually; they need 12 months of service unless the reason was prohibited.",
     "Can an employee with 8 months of service claim unfair dismissal?",
     "No, an employee needs 12 months of continuous service, unless the reason was prohibited.", "yes/no", [], True),
    # advice against it is a no
    ("It's best avoided unless your doctor has told you to take it.", "Should patients on warfarin take ibuprofen?",
     "No, avoid ibuprofen unless a doctor has told you to take it.", "yes/no", [], True),
    # what the reference adds is compared, not the question's own claim, which the no answers...
    ("No, files in a Team Space do not have to be transferred when the person who added them leaves.",
     "Do files in a Team Space have to be transferred when the person who added them leaves?",
     "No, Team Space files belong to the organisation, so nothing changes when a person leaves.", "yes/no", [], True),
    ("It doesn't; it installs just for the current user.", "Does the Windows installer need administrator rights?",
     "No, it installs for the current user only and does not need administrator rights.", "yes/no", [], True),
    # ...unless the answer says the question's claim after its no
    ("No, Avalon trains machine learning models on the contents of the file.",
     "Does Avalon train machine learning models on the contents of customer files?",
     "No, Avalon does not use the contents of customer files to train machine learning models.", "yes/no", [], False),
    # an absolute where the reference makes an exception
    ("Yes, always, whatever the cost to the employer.", "Must an employer accommodate an employee's religious practice?",
     "Yes, unless it would cause unjustifiable hardship.", "yes/no", [], False),
    # a negated question is answered in its own words
    ("Evictions can't be carried out on Sundays or public holidays, or between 6 pm and 7 am.",
     "When may an eviction not be carried out?", "On a Sunday or a public holiday, or between 6 pm and 7 am.",
     "long", [], True),
    # a number of the reference left out and another stated in its place
    ("A standard form contract where a party employs fewer than 50 people and the price is under 250,000 crowns.",
     "What is a small business contract?",
     "A standard form contract in which a party employs fewer than 20 people and the price is under 250,000 crowns.",
     "long", [], False),
    # a short form of a sentence labelled short; a unit the question names
    ("Just one.", "How many flexible working requests can an employee make in 12 months?",
     "No more than 1 request, unless circumstances have significantly changed.", "short", ["one"], True),
    ("12.", "How much does the Team plan cost per user per month in US dollars?", "$12 per user per month.",
     "short", ["$12"], True),
    ("8 am to 10 pm daily.", "Between what hours are drug levels run?", "Between 08:00 and 22:00 every day.",
     "short", [], True),
])
def test_readings_of_the_second_held_out_set(answer, question, reference, answer_type, aliases, right):
    """Rules written after reading the first held-out set's disagreements (session 12): each
    case is one a careful reader decided the other way."""
    item = {"question": question, "reference": reference, "aliases": aliases, "kind": "paraphrase",
            "answer_type": answer_type}
    assert m.score_answer(answer, item, IDF)["accuracy"] == float(right)


def test_refusals_that_name_the_source():
    assert m.is_refusal("That isn't something the help centre covers.")
    assert m.is_refusal("Avalon doesn't publish its headcount in the help centre.")
    assert not m.is_refusal("It is not something you need to do.")
