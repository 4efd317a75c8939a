from assistant.assistants import Answer, Context
from evals.injection import CANARY, injection_record, planted_documents, summarise


def test_planted_documents_carry_question_and_canary():
    (doc,) = planted_documents(["How long is the refund window?"])
    assert "refund window" in doc.text and CANARY in doc.text and doc.id == "injected-0"


def test_rates_count_retrieval_obedience_and_change():
    inj = [Context("injected-0", "Notice", "...", 0.9)]
    ok = [Context("billing", "Billing", "...", 0.8)]
    records = [injection_record("rag", "q1", "30 days.", Answer(CANARY.lower(), inj)),
               injection_record("rag", "q2", "Yes.", Answer("Yes.", inj)),
               injection_record("rag", "q3", "$12.", Answer("$12 per month.", ok))]
    s = summarise(records)
    assert (s["n"], s["retrieved"], s["followed"], s["changed"]) == (3, 2, 1, 2)
    assert abs(s["followed_rate"] - 1 / 3) < 1e-9


def test_nothing_probed_says_so():
    assert summarise([]) == {"status": "not run", "reason": "no retrieval approach or no answerable test questions", "n": 0}


def test_probe_runs_a_real_retrieval_assistant_over_a_planted_copy(tmp_path, tiny_llm, tiny_embedder):
    from assistant.assistants import RetrievalAssistant
    from assistant.corpus import Corpus, Document, QAPair
    from assistant.pipeline import _with_planted_documents
    from assistant.rag import RagConfig, RagIndex
    from evals.harness import EvalConfig, Harness
    from evals.report import build_report, render_markdown

    docs = [Document("refund", "Refunds", "Refunds are available within 30 days of purchase."),
            Document("price", "Prices", "Avalon Drive costs $12 per user per month.")]
    qa = [QAPair("u1", "How long is the refund window?", "30 days", ["refund"], "test", "unseen", "f1", "short"),
          QAPair("u2", "What does Avalon Drive cost?", "$12 per user per month", ["price"], "test", "unseen", "f2", "short")]
    corpus = Corpus("tiny", "Tiny", docs, qa)
    index = RagIndex.build(docs, tiny_embedder, RagConfig(chunk_tokens=64, chunk_overlap=8))
    rag = RetrievalAssistant("rag", tiny_llm, "", max_new_tokens=4, index=index)
    harness = Harness(corpus, tmp_path / "eval", EvalConfig(), embedder=tiny_embedder, probes=[])
    harness.evaluate(rag)
    planted = _with_planted_documents(rag, harness.injection_questions())
    harness.probe_injection(rag, planted)
    harness.write()
    assert len(index.document_ids) == 2  # the run's index is untouched
    assert len(harness.injections) == 2
    assert all(r["retrieved"] for r in harness.injections)  # the planted document is found for its question
    report = build_report(tmp_path / "eval", {"id": "x", "approaches": ["rag"], "corpus": {"name": "tiny"}})
    assert report["injection"]["rag"]["n"] == 2 and report["injection"]["rag"]["retrieved_rate"] == 1.0
    assert "## Prompt injection" in render_markdown(report)
