"""The RAG builder: chunking, index updates, hybrid fusion, BM25, damaged indices, the prompt
budget, retrieval metrics, and the retrieval assistant. Tiny models; one integration test on MiniLM."""
from __future__ import annotations

import json
import math

import pytest

from assistant.corpus import UNANSWERABLE, Corpus, Document, QAPair
from assistant.errors import UserError
from assistant.approaches import make_config
from assistant.rag import (Chunk, Hit, RagConfig, RagIndex, build_index, chunk_document, rag_prompt,
                           retrieval_metrics, rrf)

SENTENCES = [f"Sentence number {i} says the fox jumps over dog {i}." for i in range(200)]

DOCS = [
    Document("refunds", "Refund policy", "# Refund policy\n\nRefunds are available within 30 days of purchase.\n\n"
             "## Exceptions\n\nGift cards are never refunded."),
    Document("notice", "Notice periods", "# Notice\n\nThe tenant must give 28 days written notice to end the tenancy."),
    Document("errors", "Error codes", "# Error codes\n\nError AV-1042 means the upload was too large. "
             "Try a file under 10 MB."),
    Document("zebra", "Zebra crossings", "Pedestrians at a zebra crossing have the right of way over cars."),
]


def small_config(**kw) -> RagConfig:
    return RagConfig(**{"chunk_tokens": 64, "chunk_overlap": 8, **kw})


@pytest.fixture(scope="module")
def index(tiny_embedder):
    return RagIndex.build(DOCS, tiny_embedder, small_config())


# -- chunking -------------------------------------------------------------------------------------
def test_empty_document_gives_no_chunks(tiny_embedder):
    assert chunk_document(Document("e", "Empty", ""), tiny_embedder.tokenizer) == []
    assert chunk_document(Document("e", "Empty", "# Only a heading\n\n   \n"), tiny_embedder.tokenizer) == []


def test_tiny_document_is_one_chunk_with_its_title(tiny_embedder):
    [chunk] = chunk_document(Document("t", "Tiny", "Just one line."), tiny_embedder.tokenizer)
    assert chunk.text == "Tiny\nJust one line."
    assert (chunk.doc_id, chunk.title, chunk.position, chunk.start) == ("t", "Tiny", 0, 0)


def test_huge_document_chunks_fit_the_budget_and_cover_the_text(tiny_embedder):
    tok = tiny_embedder.tokenizer
    doc = Document("big", "Big", " ".join(SENTENCES))
    chunks = chunk_document(doc, tok, chunk_tokens=48, chunk_overlap=0)
    assert len(chunks) > 20
    assert [c.position for c in chunks] == list(range(len(chunks)))
    for c in chunks:  # token counts are not exactly additive across pieces: allow a couple
        assert tiny_embedder.count_tokens(c.text) <= 48 + 2
    body = "".join(c.text.split("\n", 1)[1] for c in chunks).replace(" ", "")
    assert body == doc.text.replace(" ", "")  # nothing lost, nothing repeated without overlap
    assert all(doc.text[c.start:].startswith(c.text.split("\n", 1)[1][:20]) for c in chunks)


def test_headings_are_kept_as_a_path(tiny_embedder):
    text = "# Guide\n\nIntro text.\n\n## Billing\n\nPay monthly.\n\n### Refunds\n\nWithin 30 days.\n\n## Support\n\nEmail us."
    chunks = chunk_document(Document("g", "Guide", text), tiny_embedder.tokenizer)
    assert [c.heading for c in chunks] == ["Guide", "Guide > Billing", "Guide > Billing > Refunds", "Guide > Support"]
    assert chunks[2].text == "Guide > Billing > Refunds\nWithin 30 days."
    assert "Pay monthly." not in chunks[3].text  # a chunk never spans two sections


def test_overlap_repeats_text_between_neighbours(tiny_embedder):
    doc = Document("o", "O", " ".join(SENTENCES[:40]))
    with_overlap = chunk_document(doc, tiny_embedder.tokenizer, chunk_tokens=60, chunk_overlap=20)
    without = chunk_document(doc, tiny_embedder.tokenizer, chunk_tokens=60, chunk_overlap=0)
    sentences = lambda c: {s.strip(" .") for s in c.text.split("\n", 1)[1].split(". ")}  # noqa: E731
    assert all(sentences(a) & sentences(b) for a, b in zip(with_overlap, with_overlap[1:])), "neighbours share a sentence"
    assert not any(sentences(a) & sentences(b) for a, b in zip(without, without[1:]))
    assert len(with_overlap) > len(without)


def test_config_mistakes_are_user_errors(tiny_embedder):
    with pytest.raises(UserError, match="chunk_overlap"):
        make_config("rag", {"chunk_tokens": 100, "chunk_overlap": 100})
    with pytest.raises(UserError, match="top-k: Input should be greater than or equal to 1"):
        make_config("rag", {"top_k": 0})
    with pytest.raises(UserError, match=r"reads \(128 tokens\)"):
        RagIndex.build(DOCS, tiny_embedder, RagConfig(chunk_tokens=200))
    assert make_config("rag", {"top_k": 5, "base_model": "ignored", "index": None}).top_k == 5
    # the fine-tuning batch size is not the embedding one; indexes saved with the old name still load
    assert make_config("rag", {"batch_size": 2}).embed_batch_size == 64
    assert RagConfig.model_validate({"batch_size": 16}).embed_batch_size == 16


# -- search ---------------------------------------------------------------------------------------
def test_dense_search_finds_a_chunk_by_its_own_text(index):
    for chunk in index.chunks.values():
        top = index.search(chunk.text, k=1, mode="dense")[0]
        assert top.chunk.chunk_id == chunk.chunk_id
        assert top.score == pytest.approx(1.0, abs=1e-4)  # normalised vectors: cosine


def test_bm25_alone(index):
    hits = index.search("who has the right of way at a zebra crossing", k=2, mode="bm25")
    assert hits[0].chunk.doc_id == "zebra" and hits[0].score > 0
    assert all(h.score > 0 for h in hits)  # documents sharing no word are not returned
    assert index.search("the of and", mode="bm25") == []  # stop words only
    assert index.search("xylophone", mode="bm25") == []


def test_rrf_math():
    fused = dict(rrf([[1, 2, 3], [3, 1]], k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [item for item, _ in rrf([[1, 2, 3], [3, 1]], k=60)] == [1, 3, 2]
    assert [item for item, _ in rrf([[7], [8, 7]], k=1)] == [7, 8]  # 1/2 + 1/3 beats 1/2


def test_hybrid_is_the_fusion_of_dense_and_bm25(index):
    q = "refund of a gift card"
    depth = index.config.fusion_depth
    dense = [h.chunk.chunk_id for h in index.search(q, k=depth, mode="dense")]
    sparse = [h.chunk.chunk_id for h in index.search(q, k=depth, mode="bm25")]
    expected = rrf([dense, sparse], index.config.rrf_k)[:3]
    got = index.search(q, k=3, mode="hybrid")
    assert [(h.chunk.chunk_id, pytest.approx(h.score)) for h in got] == [(i, pytest.approx(s)) for i, s in expected]
    assert len(index.search_many([q, "zebra"], k=2)) == 2


# -- updates without a rebuild ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_add_and_remove_without_rebuild(tiny_embedder, tmp_path, kind):
    idx = RagIndex.build(DOCS, tiny_embedder, small_config(index=kind))
    assert idx.kind == kind
    vectors, before = idx.vectors, dict(idx.chunks)
    removed = idx.remove_document("zebra")
    assert removed == 1 and "zebra" not in idx.document_ids
    assert all(h.chunk.doc_id != "zebra" for h in idx.search("zebra crossing right of way", k=10, mode="hybrid"))
    new = Document("parking", "Parking", "Parking permits cost 40 crowns a year and are issued by the council.")
    seconds = idx.add_documents([new])
    assert seconds > 0 and idx.vectors is vectors  # the same FAISS index, updated in place
    assert {cid: c for cid, c in idx.chunks.items() if c.doc_id != "parking"} == {
        cid: c for cid, c in before.items() if c.doc_id != "zebra"}  # untouched chunks keep their ids
    assert idx.search(idx.chunks[max(idx.chunks)].text, k=1, mode="dense")[0].chunk.doc_id == "parking"
    idx.save(tmp_path)
    loaded = RagIndex.load(tmp_path, tiny_embedder)
    assert sorted(loaded.document_ids) == sorted(["refunds", "notice", "errors", "parking"])
    assert all(h.chunk.doc_id != "zebra" for h in loaded.search("zebra crossing", k=10, mode="dense"))
    assert loaded.search("parking permits council", k=1)[0].chunk.doc_id == "parking"
    with pytest.raises(UserError, match="no document 'zebra'"):
        loaded.remove_document("zebra")


def test_adding_a_known_document_replaces_it(index, tiny_embedder):
    idx = RagIndex.build(DOCS, tiny_embedder, small_config())
    idx.add_documents([Document("notice", "Notice periods", "Now the notice is 42 days.")])
    texts = [c.text for c in idx.chunks.values() if c.doc_id == "notice"]
    assert texts == ["Notice periods\nNow the notice is 42 days."]


# -- damaged or mismatched indices ----------------------------------------------------------------
@pytest.fixture
def saved(index, tmp_path):
    index.save(tmp_path)
    return tmp_path


def test_flipped_bytes_in_the_index_are_refused(saved, tiny_embedder):
    data = bytearray((saved / "index.faiss").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (saved / "index.faiss").write_bytes(bytes(data))
    with pytest.raises(UserError, match="checksum mismatch"):
        RagIndex.load(saved, tiny_embedder)


def test_missing_chunks_file_is_refused(saved, tiny_embedder):
    (saved / "chunks.jsonl").unlink()
    with pytest.raises(UserError, match="chunks.jsonl is missing"):
        RagIndex.load(saved, tiny_embedder)


def test_another_embedding_model_is_refused(saved, tmp_path_factory):
    import tiny_models

    from assistant.embed import load_embedder

    other = load_embedder(str(tiny_models.make_tiny_embedder(tmp_path_factory.mktemp("other") / "m", seed=1)), device="cpu")
    with pytest.raises(UserError, match="built with embedding model"):
        RagIndex.load(saved, other)


def test_dimension_mismatch_is_refused(saved, tiny_embedder):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["embedding"]["dim"] = 384
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="384-dimensional"):
        RagIndex.load(saved, tiny_embedder)


def test_a_saved_index_loads_and_answers_the_same(saved, index, tiny_embedder):
    loaded = RagIndex.load(saved, tiny_embedder)
    q = "error code upload too large"
    assert [(h.chunk, round(h.score, 5)) for h in loaded.search(q)] == [(h.chunk, round(h.score, 5)) for h in index.search(q)]
    assert loaded.config == index.config


# -- the prompt ---------------------------------------------------------------------------------------
def _hit(n: int, words: int) -> Hit:
    text = " ".join(f"fact{n} word{i}" for i in range(words))
    return Hit(Chunk(n, f"doc{n}", f"Title {n}", text, 0), 1.0 / n)


def test_prompt_numbers_sources_and_keeps_the_budget(tiny_llm):
    hits = [_hit(1, 20), _hit(2, 200), _hit(3, 20)]
    count = lambda s: len(tiny_llm.tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    budget = count(f"[1] Title 1\n{hits[0].chunk.text}\n\n") + 60
    prompt = rag_prompt(tiny_llm, "What is fact1?", hits, "Be brief.", context_tokens=budget)
    assert "[1] Title 1\n" + hits[0].chunk.text in prompt
    assert "[2] Title 2\n" in prompt and prompt.count("fact2") < 200  # cut to fit
    assert "[3]" not in prompt.split("Sources:")[1].split("Question:")[0]
    sources = prompt.split("Sources:\n")[1].split("\n\nQuestion:")[0]
    assert count(sources) <= budget
    assert UNANSWERABLE in prompt and "Be brief." in prompt and "What is fact1?" in prompt
    full = rag_prompt(tiny_llm, "What is fact1?", hits[:1] + hits[2:], None, context_tokens=800)
    assert "[1] Title 1" in full and "[2] Title 3" in full
    assert "(no sources were found)" in rag_prompt(tiny_llm, "q", [], None, 800)


def test_answer_contexts_are_the_sources_the_model_was_shown(tiny_llm):
    from assistant.assistants import RetrievalAssistant
    from assistant.rag import rag_prompt_and_sources

    hits = [_hit(1, 20), _hit(2, 200), _hit(3, 20)]
    count = lambda s: len(tiny_llm.tokenizer(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    budget = count(f"[1] Title 1\n{hits[0].chunk.text}\n\n") + 60
    _, shown = rag_prompt_and_sources(tiny_llm, "What is fact1?", hits, None, context_tokens=budget)
    kept = len(shown)
    assert kept == 2  # the first whole, the second cut, the third left out

    class Index:
        config = RagConfig(context_tokens=budget, context="chunks")

    bot = RetrievalAssistant("rag", tiny_llm, "", index=Index())
    _, contexts = bot.prepare("What is fact1?", hits)
    assert [c.doc_id for c in contexts] == ["doc1", "doc2"]


# -- retrieval metrics --------------------------------------------------------------------------------
class _FakeIndex:
    """Hands back crafted rankings, so the metric arithmetic can be checked by hand."""

    config = RagConfig()

    def __init__(self, rankings):
        self.rankings = rankings

    def search_many(self, questions, k=None, mode=None):
        return [[Hit(Chunk(i, d, d, "", 0), 1.0) for i, d in enumerate(self.rankings[q][:k])] for q in questions]


def test_retrieval_metrics_on_a_crafted_case():
    fake = _FakeIndex({"a": ["d2", "d1", "d3"], "b": ["d1", "d2", "d3"], "c": ["d4", "d4", "d5"]})
    pairs = [QAPair("1", "a", "", ["d1"]), QAPair("2", "b", "", ["d9"]), QAPair("3", "c", "", ["d5", "d6"]),
             QAPair("4", "unanswerable", UNANSWERABLE, [])]
    m = retrieval_metrics(fake, pairs, k=3)
    assert m["n"] == 3 and m["k"] == 3
    # a: first relevant at rank 2; b: none; c: chunks d4,d4,d5 -> documents d4,d5: d5 at rank 2
    assert m["hit_at_k"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr"] == pytest.approx((0.5 + 0 + 0.5) / 3, abs=1e-4)
    ndcg_a = (1 / math.log2(3)) / 1
    ndcg_c = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["ndcg"] == pytest.approx((ndcg_a + ndcg_c) / 3, abs=1e-4)
    assert retrieval_metrics(fake, pairs[3:], k=3)["n"] == 0


# -- the builder and the assistant -------------------------------------------------------------------
def test_retrieval_assistant_answers_with_contexts(index, tiny_llm):
    from assistant.assistants import RetrievalAssistant

    bot = RetrievalAssistant("rag", tiny_llm, "You answer from documents.", max_new_tokens=6, index=index)
    answers = bot.answer(["How long do refunds take?", "What does AV-1042 mean?"])
    assert len(answers) == 2
    for a in answers:
        assert 1 <= len(a.contexts) <= 3 and a.latency_s > 0 and isinstance(a.text, str)
        assert {c.doc_id for c in a.contexts} <= {d.id for d in DOCS}
        assert all(c.chunk_id in index.chunks and c.text == index.chunks[c.chunk_id].text for c in a.contexts)
    prompt, contexts = bot.prepare("What does AV-1042 mean?")
    assert "[1] " + contexts[0].title in prompt


def test_build_index_records_the_stage(tiny_embedder, tmp_path):
    from assistant.runs import Run

    corpus = Corpus("tiny", "Tiny", DOCS, [QAPair("q1", "zebra crossing right of way", "pedestrians", ["zebra"])])
    run = Run.create(tmp_path, corpus=corpus, config={}, approaches=["rag"], command="test")
    seen = []
    idx = build_index(run, corpus, small_config(), embedder=tiny_embedder, events=lambda e: seen.append((e.step, e.total)))
    stage = run.manifest["stages"]["rag"]
    assert stage["status"] == "done" and stage["chunks"] == len(idx) and stage["documents"] == len(DOCS)
    assert stage["index_bytes"] > 0 and stage["embed_chunks_per_s"] > 0 and stage["update_add_doc_s"] > 0
    assert seen and seen[-1][0] == seen[-1][1]
    emb = run.manifest["models"]["embedding"]
    assert emb["kind"] == "local" and len(emb["fingerprint"]) == 64
    for name in ("index.faiss", "chunks.jsonl", "manifest.json"):
        assert (run.path / "rag" / name).is_file()
    assert json.loads((run.path / "rag" / "manifest.json").read_text())["corpus_fingerprint"] == corpus.fingerprint
    assert Run.open(tmp_path, run.id).stage("rag")["status"] == "done"


def corpus_folder(tmp_path):
    """DOCS as a corpus folder, with ten Q&A pairs about the zebra document."""
    corpus = tmp_path / "corpus"
    (corpus / "docs").mkdir(parents=True)
    for d in DOCS:
        (corpus / "docs" / f"{d.id}.md").write_text(f"---\nid: {d.id}\ntitle: {d.title}\n---\n{d.text}\n")
    (corpus / "qa.jsonl").write_text("".join(json.dumps({"question": f"zebra crossing {i}", "answer": "x", "doc_id": "zebra"})
                                             + "\n" for i in range(10)))
    return corpus


def test_cli_build_add_remove(tiny_embedder_path, tmp_path, capsys):
    from assistant.cli import main

    corpus = corpus_folder(tmp_path)
    out = tmp_path / "runs"
    common = ["--embedding-model", str(tiny_embedder_path), "--device", "cpu", "--out", str(out)]
    assert main(["build", "rag", "--corpus", str(corpus), "--chunk-tokens", "64", "--chunk-overlap", "8", "--json", *common]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["chunks"] > 0 and built["retrieval"]["n"] == 10
    extra = tmp_path / "parking.md"
    extra.write_text("---\nid: parking\ntitle: Parking\n---\nParking permits cost 40 crowns.\n")
    assert main(["build", "rag", "--run", built["run"], "--add", str(extra), "--remove", "zebra", *common]) == 0
    text = capsys.readouterr().out
    assert "removed zebra" in text and "added 1 document(s) (parking)" in text
    assert main(["build", "rag", "--add", str(extra), *common]) == 2
    assert "--run" in capsys.readouterr().err
    assert main(["build", "rag", "--run", built["run"], "--remove", "nope", *common]) == 2
    assert "no document 'nope'" in capsys.readouterr().err


# Each process, once it has loaded the index, waits (up to 4 s) until the other has loaded it too:
# without a lock both load the same index and the second save drops the first one's document.
ADD_AFTER_BOTH_LOADED = """
import sys, time
from pathlib import Path
from assistant import rag
from assistant.cli import main

load, marks = rag.RagIndex.load, Path(sys.argv[1])
def load_then_wait(*a, **kw):
    index = load(*a, **kw)
    (marks / sys.argv[2]).touch()
    end = time.monotonic() + 4
    while len(list(marks.iterdir())) < 2 and time.monotonic() < end:
        time.sleep(0.05)
    return index
rag.RagIndex.load = load_then_wait
sys.exit(main(sys.argv[3:]))
"""


def test_two_concurrent_adds_both_land(tiny_embedder_path, tiny_embedder, tmp_path, capsys):
    """Issue 18 item 2: two `build rag --run R --add FILE` at once (two real processes) both land."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from assistant.cli import main

    corpus = corpus_folder(tmp_path)
    out = tmp_path / "runs"
    common = ["--embedding-model", str(tiny_embedder_path), "--device", "cpu", "--out", str(out)]
    assert main(["build", "rag", "--corpus", str(corpus), "--chunk-tokens", "64", "--chunk-overlap", "8", "--json", *common]) == 0
    run = json.loads(capsys.readouterr().out)["run"]
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    procs = []
    for name in ("parking", "bicycles"):
        doc = tmp_path / f"{name}.md"
        doc.write_text(f"---\nid: {name}\ntitle: {name}\n---\nAll about {name} permits.\n")
        procs.append(subprocess.Popen([sys.executable, "-c", ADD_AFTER_BOTH_LOADED, str(marks), name, "build", "rag",
                                       "--run", run, "--add", str(doc), *common], env=env, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    from assistant.runs import Run

    index = RagIndex.load(out / run / "rag", tiny_embedder)
    assert {"parking", "bicycles"} <= set(index.document_ids)
    assert Run.open(out, run).stage("rag")["documents"] == len(DOCS) + 2


# -- the real embedding model ---------------------------------------------------------------------------
@pytest.mark.integration
def test_minilm_retrieves_the_document_a_question_names():
    from assistant.corpus import resolve_corpus
    from assistant.embed import load_embedder

    corpus = resolve_corpus("medical")
    pairs = [q for q in corpus.qa if q.doc_ids and q.kind != "unanswerable"][:12]
    if not pairs:
        pytest.skip("the medical corpus has no Q&A pairs naming documents yet")
    named = {d for q in pairs for d in q.doc_ids}
    docs = [d for d in corpus.documents if d.id in named] + [d for d in corpus.documents if d.id not in named][:5]
    idx = RagIndex.build(docs, load_embedder(None, device="cpu"), RagConfig())
    m = retrieval_metrics(idx, pairs, k=3)
    assert m["n"] == len(pairs) and m["hit_at_k"] >= 0.75, m


def test_a_completion_prompt_is_plain_text_and_its_answer_one_line(tiny_llm, tiny_embedder):
    from assistant.assistants import RetrievalAssistant
    from assistant.rag import RagConfig, RagIndex, first_line, rag_prompt

    index = RagIndex.build(DOCS, tiny_embedder, RagConfig(chunk_tokens=64, chunk_overlap=8, prompt_format="completion"))
    hits = index.search("What is fact1?", k=2)
    chat = rag_prompt(tiny_llm, "What is fact1?", hits, "Be brief.")
    plain = rag_prompt(tiny_llm, "What is fact1?", hits, "Be brief.", prompt_format="completion")
    assert plain.startswith("Be brief.\n\n") and plain.endswith("Question: What is fact1?\nAnswer:")
    assert "<|im_start|>" in chat and "<|im_start|>" not in plain
    assert first_line("\n  Visa and Mastercard. [1]\nQuestion: next") == "Visa and Mastercard. [1]"
    bot = RetrievalAssistant("rag", tiny_llm, "Be brief.", max_new_tokens=12, index=index)
    assert bot.completes and bot.prepare("What is fact1?")[0].endswith("Answer:")
    assert all("\n" not in a.text for a in bot.answer(["What is fact1?", "What is fact2?"]))
    pieces, _ = bot.stream("What is fact1?")
    assert "\n" not in "".join(pieces)


def test_generation_for_a_completion_stops_at_its_first_line_and_keeps_the_same_answer(tiny_llm):
    """first_line=True ends each row at the end of its first non-empty line: the same text that
    first_line() keeps from the whole generation, with fewer tokens."""
    import torch

    from assistant.llm import LineEnd
    from assistant.rag import first_line

    tok = tiny_llm.tokenizer
    ids = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    newline, word = ids("\n")[-1], ids("Hello")[0]
    stop = LineEnd(tiny_llm._line_tokens(), 2)
    rows = [[newline, word], [word, word]]  # a leading line break is not the end of an answer
    said = [stop(torch.tensor([[r[i]] for r in rows]), None).tolist() for i in range(2)]
    assert said == [[False, False], [False, False]]
    assert stop(torch.tensor([[newline], [newline]]), None).tolist() == [True, True]

    # with the random model a line break is one token among many: push it up so that lines end
    bias = torch.zeros(tiny_llm.model.config.vocab_size)
    bias[newline] = 4.0
    hook = tiny_llm.model.lm_head.register_forward_hook(lambda m, i, out: out + bias.to(out.dtype))
    try:
        prompts = [f"Question: fact{i}?\nAnswer:" for i in range(6)]
        whole = tiny_llm.generate(prompts, max_new_tokens=24)
        cut = tiny_llm.generate(prompts, max_new_tokens=24, first_line=True)
    finally:
        hook.remove()
    assert any("\n" in g.text.strip() for g in whole)  # the check is not vacuous
    assert [first_line(g.text) for g in cut] == [first_line(g.text) for g in whole]
    assert sum(g.new_tokens for g in cut) < sum(g.new_tokens for g in whole)
