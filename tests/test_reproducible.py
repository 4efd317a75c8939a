"""Same corpus, config and seed: the same splits and the same index, byte for byte (issue 7)."""
import json

from assistant.corpus import CORPORA_DIR, Corpus, load_corpus
from assistant.files import read_json
from assistant.rag import RagConfig, build_index
from assistant.runs import Run


def _small_support() -> Corpus:
    full = load_corpus(CORPORA_DIR / "support")
    docs = full.documents[:4]
    keep = {d.id for d in docs}
    qa = [q for q in full.qa if set(q.doc_ids) <= keep and q.doc_ids]
    return Corpus(name="support-small", title="small", documents=docs, qa=qa, system_prompt=full.system_prompt)


def test_shipped_corpus_loads_identically_twice():
    a, b = load_corpus(CORPORA_DIR / "support"), load_corpus(CORPORA_DIR / "support")
    assert a.fingerprint == b.fingerprint
    assert [(q.id, q.split, q.kind) for q in a.qa] == [(q.id, q.split, q.kind) for q in b.qa]


def test_same_corpus_and_config_build_the_same_index(tmp_path, tiny_embedder):
    corpus = _small_support()
    checksums = []
    for name in ("one", "two"):
        run = Run.create(tmp_path / name, corpus=corpus, config={}, approaches=["rag"], command="test")
        build_index(run, corpus, RagConfig(chunk_tokens=64, chunk_overlap=8), embedder=tiny_embedder)
        manifest = read_json(run.path / "rag" / "manifest.json")
        checksums.append({f: v["sha256"] for f, v in manifest["files"].items()})
        chunks = (run.path / "rag" / "chunks.jsonl").read_text().splitlines()
        assert len(chunks) > len(corpus.documents)  # really chunked
        assert all(json.loads(c)["doc_id"] in {d.id for d in corpus.documents} for c in chunks)
    assert checksums[0] == checksums[1]
