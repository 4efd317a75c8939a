"""Error attribution: where each wrong answer went wrong, and the oracle reader that bounds
what retrieval could give."""
from evals.attribution import attribute


def rec(ap, id_, kind, right, split="test", docs=("d1",), ctx=(), fact=None):
    return {"approach": ap, "id": id_, "kind": kind, "split": split, "doc_ids": list(docs), "fact_id": fact,
            "contexts": [{"doc_id": d} for d in ctx], "scores": {"accuracy": float(right)}}


def test_retrieval_errors_are_split_into_missed_and_misread():
    answers = [rec("rag", "a", "unseen", True, ctx=("d1",)), rec("rag", "b", "unseen", False, ctx=("d1", "d2")),
               rec("rag", "c", "unseen", False, ctx=("d2",)), rec("rag", "d", "unseen", False, ctx=("d1",)),
               rec("rag", "n", "unanswerable", True, docs=(), ctx=("d2",)),
               rec("oracle", "a", "unseen", True, ctx=("d1",)), rec("oracle", "b", "unseen", True, ctx=("d1",)),
               rec("oracle", "c", "unseen", False, ctx=("d1",)), rec("oracle", "d", "unseen", True, ctx=("d1",))]
    a = attribute(answers, ["rag", "oracle"], bounds=["oracle"])
    assert "oracle" not in a  # a bound is not diagnosed, it is the yardstick
    rag = a["rag"]
    assert rag["n"] == 4 and rag["counts"] == {"correct": 1, "retrieved, misread": 2, "retrieval missed": 1}
    assert rag["outcomes"] == {"a": "correct", "b": "retrieved, misread", "c": "retrieval missed",
                               "d": "retrieved, misread"}
    assert rag["hit_rate"]["value"] == 0.75 and rag["read_rate"]["value"] == 1 / 3
    assert "a stronger reader" in rag["sentence"] and "handed the gold documents, the same reader is right 75%" \
        in rag["sentence"]


def test_closed_book_errors_are_split_into_not_learned_and_not_generalised():
    answers = [rec("ft", "p1", "paraphrase", True, fact="f1"), rec("ft", "t1", None, True, "train", fact="f1"),
               rec("ft", "p2", "paraphrase", False, fact="f2"), rec("ft", "t2", None, True, "train", fact="f2"),
               rec("ft", "p3", "paraphrase", False, fact="f3"), rec("ft", "t3", None, False, "train", fact="f3"),
               rec("ft", "p4", "paraphrase", False, fact="f4"), rec("ft", "t4", None, False, "train", fact="f4"),
               rec("ft", "p5", "paraphrase", False, fact="f5"),  # its trained phrasing was not asked: left out
               rec("ft", "u1", "unseen", False)]
    a = attribute(answers, ["ft"], bounds=[], trained={"ft"})["ft"]
    assert a["n"] == 4 and a["counts"] == {"correct": 1, "learned, not generalised": 1, "not learned": 2}
    assert a["learned_rate"]["value"] == 0.5 and a["generalised_rate"]["value"] == 0.5
    assert "has not learned most of what it was taught" in a["sentence"]
    carried = [rec("ft", f"p{i}", "paraphrase", i < 3, fact=f"f{i}") for i in range(5)] + \
              [rec("ft", f"t{i}", None, True, "train", fact=f"f{i}") for i in range(5)]
    assert attribute(carried + answers[-1:], ["ft"], bounds=[], trained={"ft"})["ft"]["sentence"].endswith(
        "it learned its facts and carries most of them to new phrasings.")  # 3 of 5, not "does not carry most"
    carried[2]["scores"]["accuracy"] = 0.0
    assert "does not carry most of them" in attribute(carried, ["ft"], bounds=[], trained={"ft"})["ft"]["sentence"]
    untrained = attribute([dict(r, approach="base") for r in answers], ["base"], bounds=[])["base"]
    assert "(not trained) already knew" in untrained["sentence"]


def test_the_oracle_reads_the_gold_documents_and_is_never_recommended(tmp_path, tiny_llm, tiny_embedder):
    from assistant.assistants import GoldAssistant, RetrievalAssistant
    from assistant.corpus import Corpus, Document, QAPair
    from assistant.rag import RagConfig, RagIndex
    from evals.harness import EvalConfig, Harness
    from evals.report import build_report

    docs = [Document(f"d{i}", f"Doc {i}", f"Document {i} says the code word is word{i}. " * 3) for i in range(6)]
    # questions worded so the retriever finds the wrong document: only the oracle is handed the right one
    qa = [QAPair(f"u{i}", f"What does document {(i + 1) % 6} say the code word is?", f"word{i}", [f"d{i}"], "test",
                 "unseen", f"f{i}", "short") for i in range(6)]
    corpus = Corpus("tiny", "Tiny", docs, qa)
    index = RagIndex.build(docs, tiny_embedder, RagConfig(chunk_tokens=64, chunk_overlap=8, top_k=1))
    oracle = GoldAssistant("oracle", tiny_llm, "", max_new_tokens=4, index=index,
                           gold={q.question: q.doc_ids for q in qa})
    for q in qa:
        assert {h.chunk.doc_id for h in oracle.retrieve([q.question])[0]} == set(q.doc_ids)
    assert oracle.retrieve(["a question from elsewhere"])[0]  # retrieved for as usual
    harness = Harness(corpus, tmp_path / "eval", EvalConfig(), probes=[])
    harness.evaluate(RetrievalAssistant("rag", tiny_llm, "", max_new_tokens=4, index=index))
    harness.evaluate(oracle)
    harness.write()
    (tmp_path / "eval" / "build.json").write_text('{"approaches": {"oracle": {"bound": true}}}')
    report = build_report(tmp_path / "eval", {"id": "x", "approaches": ["rag", "oracle"], "corpus": {"name": "tiny"}})
    assert report["bounds"] == ["oracle"] and report["recommendation"]["winner"] == "rag"
    assert any("upper bound" in c for c in report["recommendation"]["caveats"])
    assert report["recommendation"]["diagnosis"] and "Retrieval finds a gold document" in \
        report["recommendation"]["diagnosis"][0]


def test_build_oracle_builds_rag_first_and_loads_from_the_run(tmp_path, tiny_llm_path, tiny_embedder_path, capsys):
    import json

    from assistant import approaches
    from assistant.cli import main
    from assistant.runs import Run

    corpus = tmp_path / "corpus"
    (corpus / "docs").mkdir(parents=True)
    for i in range(3):
        (corpus / "docs" / f"d{i}.md").write_text(f"---\nid: d{i}\ntitle: Doc {i}\n---\nThe code word of d{i} is w{i}.\n")
    (corpus / "qa.jsonl").write_text("".join(json.dumps({"question": f"What is code word {i}?", "answer": f"w{i % 3}",
                                                         "doc_id": f"d{i % 3}"}) + "\n" for i in range(12)))
    out = tmp_path / "runs"
    assert main(["build", "oracle", "--corpus", str(corpus), "--base-model", str(tiny_llm_path), "--embedding-model",
                 str(tiny_embedder_path), "--device", "cpu", "--precision", "fp32", "--chunk-tokens", "64",
                 "--chunk-overlap", "8", "--out", str(out), "--json"]) == 0
    run = Run.open(out, json.loads(capsys.readouterr().out)["run"])
    assert run.stage("rag")["status"] == "done" and run.stage("oracle")["status"] == "done"
    bot = approaches.get("oracle").load(run, device="cpu", precision="fp32", max_new_tokens=2)
    assert [h.chunk.doc_id for h in bot.retrieve(["What is code word 4?"])[0]] == ["d1"]
    assert approaches.get("oracle").facts(run)["bound"] is True
