"""assistant/text.py: the one place for stop words, tokens, stemming and a fact's terms. The three
readers of a fact keep their own exact behaviour (the metric's scores must not move), so these
tests pin each of them on one sentence, side by side, and pin the stop lists they use."""
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from assistant import finetune, text
from evals import metrics

SENTENCE = ("The tenant’s deposit of £1,200.50 is paid at 10:30 to Avalon Bank, within ten days of the "
            "3rd notice.")


def test_the_metric_stop_words_are_scikit_learns():
    assert text.STOP_WORDS == frozenset(ENGLISH_STOP_WORDS)


def test_the_probe_and_the_check_drop_the_same_function_words_plus_a_few_each():
    assert text.FUNCTION_WORDS - text.STOP_WORDS == {"did", "does", "shall", "yes"}
    assert text.PROBE_STOP_WORDS - text.FUNCTION_WORDS == {"but", "being", "i", "me", "my", "might", "so", "via", "just"}
    assert text.CHECK_STOP_WORDS - text.FUNCTION_WORDS == {"after", "before", "under", "over", "more", "less", "here",
                                                           "other", "most", "some"}


def test_fact_terms_are_the_metrics():
    assert metrics.content_terms is text.fact_terms
    assert text.fact_terms(SENTENCE) == ["n:1200.50", "n:10:30", "n:3", "tenant", "deposit", "paid", "name:avalon",
                                         "name:bank", "day", "rd", "notic"]
    assert text.answer_terms("avalon bank pays") == {"avalon", "bank", "name:avalon", "name:bank", "name:pays", "pay"}


def test_a_capital_letter_alone_is_a_fact_term_but_not_a_unit_or_the_pronoun():
    assert "name:u" in text.fact_terms("Press Shift + U.") and "name:b" in text.fact_terms("Hepatitis B vaccine.")
    assert not {"name:l", "name:c", "name:i", "name:d"} & set(text.fact_terms(
        "I think 2.0 mmol/L is fine at 18 °C with 3-D Secure."))


def test_key_terms_are_the_probes():
    assert finetune.key_terms is text.key_terms
    assert text.key_terms(SENTENCE) == {"1,200.50", "10:30", "3rd", "avalon", "bank", "days", "deposit", "notice",
                                        "paid", "ten", "tenant", "within"}


def test_support_terms_are_the_corpus_checks():
    assert text.support_terms(SENTENCE) == (["1,200.50", "10", "30", "3"],
                                            ["tenant", "deposit", "paid", "avalon", "bank", "within", "ten", "days",
                                             "notice"])
    assert text.tokens("Can the Tenant’s  deposit, be kept?") == ["can", "the", "tenant", "s", "deposit", "be", "kept"]
