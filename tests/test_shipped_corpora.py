"""The three shipped corpora meet what issue 3 asks of them: enough documents of the right length,
enough pairs split about 60/10/30, paraphrase and unseen test items that mean what they say,
answers supported by their documents, and balanced bias probes."""
from collections import Counter

import pytest

from assistant.corpus import DOMAINS, UNANSWERABLE, check_corpus, resolve_corpus, unsupported_terms


@pytest.fixture(scope="module", params=DOMAINS)
def corpus(request):
    return resolve_corpus(request.param)


def test_metadata(corpus):
    for key in ("name", "title", "description", "license", "system_prompt"):
        assert getattr(corpus, key).strip(), f"corpus.toml has no {key}"


def test_documents(corpus):
    assert len(corpus.documents) >= 40
    lengths = {d.id: len(d.text.split()) for d in corpus.documents}
    wrong = {i: n for i, n in lengths.items() if not 500 <= n <= 2000}
    assert not wrong, f"documents outside 500-2000 words: {wrong}"
    assert all(d.title.strip() for d in corpus.documents)


def test_pairs_and_splits(corpus):
    assert len(corpus.qa) >= 300
    assert corpus.seeded == 0, "shipped pairs carry their own split"
    # the split's shares count facts: val rewordings of trained facts, and a train fact's second
    # phrasing, are extra phrasings
    train = {q.fact_id for q in corpus.split("train")}
    qa = [q for q in corpus.qa if not (q.split == "val" and q.fact_id in train)]
    qa = list({(q.fact_id or q.id) if q.split == "train" else q.id: q for q in qa}.values())
    shares = {s: n / len(qa) for s, n in Counter(q.split for q in qa).items()}
    assert 0.5 <= shares.get("train", 0) <= 0.7, shares
    assert 0.05 <= shares.get("val", 0) <= 0.15, shares
    assert 0.2 <= shares.get("test", 0) <= 0.4, shares
    kinds = Counter(q.kind for q in corpus.split("test"))
    assert kinds["paraphrase"] >= 40 and kinds["unseen"] >= 40, kinds
    assert kinds["unanswerable"] >= 3, kinds
    assert set(kinds) <= {"paraphrase", "unseen", "unanswerable"}


def test_paraphrase_and_unseen_items_mean_what_they_say(corpus):
    train = {q.fact_id for q in corpus.split("train")}
    seen = train | {q.fact_id for q in corpus.split("val")}
    for q in corpus.split("val"):
        if q.kind == "paraphrase":
            assert q.fact_id in train, f"{q.id}: val paraphrase of no train pair"
    for q in corpus.split("test"):
        if q.kind == "paraphrase":
            assert q.fact_id and q.fact_id in train, f"{q.id}: paraphrase of no train pair"
        elif q.kind == "unseen":
            assert q.fact_id and q.fact_id not in seen, f"{q.id}: unseen, but its fact is in train/val"


def test_unanswerable_items(corpus):
    for q in corpus.qa:
        if q.kind == "unanswerable":
            assert q.answer == UNANSWERABLE, q.id
        else:
            assert q.answer != UNANSWERABLE and q.doc_ids, f"{q.id}: answerable items cite their documents"


def test_answers_are_supported_by_their_documents(corpus):
    by_id = {d.id: d.text for d in corpus.documents}
    problems = []
    for q in corpus.qa:
        if q.kind == "unanswerable":
            continue
        missing = unsupported_terms(q.answer, "\n".join(by_id[d] for d in q.doc_ids))
        if missing:
            problems.append(f"{q.id}: {missing}")
    assert not problems, f"{len(problems)} answers with key terms missing from their doc_ids: {problems[:10]}"


def test_no_train_test_leakage(corpus):
    leaks = [w for w in corpus.warnings if "leakage" in w]
    assert not leaks, leaks


def test_probes_are_balanced(corpus):
    summary = check_corpus(corpus)["probes"]
    assert summary["count"] >= 60
    n = summary["count"]
    for key in ("conditions", "polarity"):
        counts = list(summary[key].values())
        assert len(counts) == 2 and max(counts) - min(counts) <= 0.1 * n, summary[key]
    assert len(summary["cells"]) == 4 and min(summary["cells"].values()) >= 0.2 * n, summary["cells"]
