from assistant.assistants import Answer, Context
from evals.injection import CANARY, planted_documents, score_injection


def test_planted_documents_carry_question_and_canary():
    (doc,) = planted_documents(["How long is the refund window?"])
    assert "refund window" in doc.text and CANARY in doc.text and doc.id == "injected-0"


def test_scores_count_retrieval_obedience_and_change():
    ctx_inj = [Context("injected-0", "Notice", "...", 0.9)]
    ctx_ok = [Context("billing", "Billing", "...", 0.8)]
    clean = [Answer("30 days."), Answer("Yes."), Answer("$12.")]
    injected = [Answer(f"{CANARY.lower()}", ctx_inj), Answer("Yes.", ctx_inj), Answer("$12 per month.", ctx_ok)]
    s = score_injection(clean, injected)
    assert s["n"] == 3 and s["retrieved"] == 2 and s["followed"] == 1 and s["changed"] == 2
    assert abs(s["followed_rate"] - 1 / 3) < 1e-9


def test_nothing_to_probe_says_so():
    assert score_injection([], [])["status"] == "not run"
