"""RAG retrieval side by side with LlamaIndex's FAISS vector store: query latency and hit@5.

    python3 -m venv /tmp/li-venv && /tmp/li-venv/bin/pip install torch==2.13.0
    /tmp/li-venv/bin/pip install -e . -r benchmarks/requirements-llamaindex.txt
    /tmp/li-venv/bin/python benchmarks/rag_vs_llamaindex.py [--domain legal] [--k 5] [--repeat 3]

Same chunks, same vectors: our RagIndex is built with the embedded MiniLM, and exactly its chunks
and the vectors in its FAISS index become LlamaIndex TextNodes (metadata doc_id) in a
FaissVectorStore over a faiss.IndexFlatIP of the same dimension. The questions are the corpus's
Q&A pairs that name their documents, embedded once with our embedder; neither side pays for
embedding a query in the timings (LlamaIndex gets a QueryBundle with the embedding and a
MockEmbedding it never calls, ours an embedder that looks the same vectors up).

  ours dense / hybrid  RagIndex.search(question, k, mode): Hits with their chunks
  LlamaIndex           VectorIndexRetriever.retrieve(QueryBundle(embedding=...)): nodes with text
                       (the baseline: it returns what ours returns); its bare FaissVectorStore.query
                       (ids only) is printed too

Per-query latency (p50/p95 over --repeat passes over all questions after one warm-up pass, the
systems taking turns) and hit@k per document, as assistant.rag.retrieval_metrics defines it.
Target: our hybrid p95 below LlamaIndex's, and our hybrid hit@k at least LlamaIndex's. The last
line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from assistant.corpus import resolve_corpus  # noqa: E402
from assistant.embed import load_embedder  # noqa: E402
from assistant.hub import quiet_libraries  # noqa: E402
from assistant.rag import RagConfig, RagIndex, retrieval_metrics  # noqa: E402


class PrecomputedQueries:
    """Our embedder, except that the benchmark's questions come from a table of their vectors:
    the same vectors LlamaIndex is given, so neither side's timing includes the model."""

    def __init__(self, embedder, texts: list[str], vectors: np.ndarray):
        self._embedder = embedder
        self._table = dict(zip(texts, vectors))

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        if all(t in self._table for t in texts):
            return np.ascontiguousarray(np.stack([self._table[t] for t in texts]), dtype=np.float32)
        return self._embedder.encode(texts, batch_size=batch_size)

    def __getattr__(self, name):
        return getattr(self._embedder, name)


def llamaindex_over(chunks, vectors: np.ndarray):
    """A LlamaIndex VectorStoreIndex over a FaissVectorStore (IndexFlatIP) holding our chunks with
    our vectors. Its embed_model is a MockEmbedding that is never called (every node and query
    comes with its vector): embed_model=None would fall back to Settings' OpenAI default."""
    import faiss
    from llama_index.core import MockEmbedding, StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.faiss import FaissVectorStore

    store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(vectors.shape[1]))
    nodes = [TextNode(text=c.text, id_=str(c.chunk_id), embedding=v.tolist(), metadata={"doc_id": c.doc_id})
             for c, v in zip(chunks, vectors)]
    index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store),
                             embed_model=MockEmbedding(embed_dim=vectors.shape[1]), show_progress=False)
    assert store.client.ntotal == len(chunks)
    return index, store


def hit_at_k(ranked_doc_ids: list[list[str]], pairs) -> float:
    """The share of questions with a named document among the top-k chunks' documents
    (retrieval_metrics' hit@k)."""
    return sum(bool(set(docs) & set(q.doc_ids)) for docs, q in zip(ranked_doc_ids, pairs)) / len(pairs)


def percentile_ms(samples_ns: list[int], q: float) -> float:
    return float(np.percentile(np.array(samples_ns) / 1e6, q))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default="legal")
    ap.add_argument("--embedding-model", default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over all questions")
    opts = ap.parse_args()
    quiet_libraries()
    from llama_index.core import QueryBundle
    from llama_index.core.vector_stores import VectorStoreQuery

    corpus = resolve_corpus(opts.domain)
    emb = load_embedder(opts.embedding_model, device=opts.device)
    ours = RagIndex.build(corpus.documents, emb, RagConfig())
    chunks = sorted(ours.chunks.values(), key=lambda c: c.chunk_id)
    # the vectors our FAISS index holds, read back from it (no second embedding)
    chunk_vecs = np.stack([ours.vectors.reconstruct(c.chunk_id) for c in chunks])
    pairs = [q for q in corpus.qa if q.doc_ids]
    questions = [q.question for q in pairs]
    query_vecs = emb.encode(questions)
    ours.embedder = PrecomputedQueries(emb, questions, query_vecs)
    li_index, li_store = llamaindex_over(chunks, chunk_vecs)
    retriever = li_index.as_retriever(similarity_top_k=opts.k)
    bundles = [QueryBundle(query_str=q, embedding=v.tolist()) for q, v in zip(questions, query_vecs)]
    store_queries = [VectorStoreQuery(query_embedding=v.tolist(), similarity_top_k=opts.k) for v in query_vecs]
    print(f"'{corpus.name}': {len(corpus.documents)} documents, {len(chunks)} chunks ({ours.kind} index, "
          f"dim {chunk_vecs.shape[1]}), {len(pairs)} questions naming their documents, k={opts.k}, "
          f"model {emb.source.name}, device {opts.device}")

    systems = {
        "ours dense": lambda i: ours.search(questions[i], k=opts.k, mode="dense"),
        "ours hybrid": lambda i: ours.search(questions[i], k=opts.k, mode="hybrid"),
        "LlamaIndex retriever": lambda i: retriever.retrieve(bundles[i]),
        "LlamaIndex store.query": lambda i: li_store.query(store_queries[i]),
    }
    samples: dict[str, list[int]] = {name: [] for name in systems}
    results: dict[str, list] = {}
    names = list(systems)
    for r in range(opts.repeat + 1):  # pass 0 warms up and keeps the results for hit@k
        for name in names[r % len(names):] + names[:r % len(names)]:  # take turns going first
            run = systems[name]
            out = []
            for i in range(len(questions)):
                t0 = time.perf_counter_ns()
                out.append(run(i))
                if r:
                    samples[name].append(time.perf_counter_ns() - t0)
            results.setdefault(name, out)

    batched = {}  # ours answers a list of questions in one call; LlamaIndex's retriever takes one
    for mode in ("dense", "hybrid"):
        best = float("inf")
        for _ in range(opts.repeat):
            t0 = time.perf_counter()
            ours.search_many(questions, k=opts.k, mode=mode)
            best = min(best, time.perf_counter() - t0)
        batched[f"ours {mode}"] = best * 1000 / len(questions)

    doc_ids = {
        "ours dense": [[h.chunk.doc_id for h in hits] for hits in results["ours dense"]],
        "ours hybrid": [[h.chunk.doc_id for h in hits] for hits in results["ours hybrid"]],
        "LlamaIndex retriever": [[n.node.metadata["doc_id"] for n in nodes] for nodes in results["LlamaIndex retriever"]],
    }
    hits = {name: hit_at_k(d, pairs) for name, d in doc_ids.items()}
    # the same figures through the project's own metric, as a check on hit_at_k here
    for mode in ("dense", "hybrid"):
        official = retrieval_metrics(ours, pairs, k=opts.k, mode=mode)["hit_at_k"]
        assert abs(official - round(hits[f"ours {mode}"], 4)) < 1e-9, (mode, official, hits[f"ours {mode}"])
    same_top = np.mean([[h.chunk.chunk_id for h in a] == [int(n.node.node_id) for n in b]
                        for a, b in zip(results["ours dense"], results["LlamaIndex retriever"])])

    print(f"\n{'system':<24}{'p50 ms':>9}{'p95 ms':>9}{'batched ms/q':>14}{f'hit@{opts.k}':>9}")
    for name in systems:
        b = f"{batched[name]:.3f}" if name in batched else "-"
        h = f"{hits[name]:.4f}" if name in hits else "-"
        print(f"{name:<24}{percentile_ms(samples[name], 50):>9.3f}{percentile_ms(samples[name], 95):>9.3f}{b:>14}{h:>9}")
    print(f"(store.query returns ids only; dense top-{opts.k} identical to LlamaIndex's for {same_top:.1%} of questions)")

    value = percentile_ms(samples["ours hybrid"], 95)
    baseline = percentile_ms(samples["LlamaIndex retriever"], 95)
    ratio = baseline / value  # > 1: ours is faster
    hit_ok = hits["ours hybrid"] >= hits["LlamaIndex retriever"]
    print(f"hybrid p95 {value:.3f} ms vs LlamaIndex {baseline:.3f} ms: {ratio:.2f}x (target > 1); "
          f"hit@{opts.k} dense {hits['ours dense']:.4f}, hybrid {hits['ours hybrid']:.4f}, "
          f"LlamaIndex {hits['LlamaIndex retriever']:.4f} (target: hybrid >= LlamaIndex)")
    print(json.dumps({"benchmark": "rag_vs_llamaindex",
                      "figure": f"hybrid query p95 latency vs LlamaIndex FAISS retriever (and hybrid hit@{opts.k} >= LlamaIndex's)",
                      "unit": "ms", "value": round(value, 3), "baseline": round(baseline, 3), "ratio": round(ratio, 3),
                      "target": 1.0, "met": bool(ratio > 1.0 and hit_ok)}))


if __name__ == "__main__":
    main()
