"""Which RAG context can the embedded model read? `focused` vs `chunks` on the VAL split.

For each shipped corpus: one RAG index (the rag approach's defaults), the embedded base model,
greedy answers to every val question, scored by the harness's own accuracy rule (evals.metrics),
with each context presentation; and the oracle beside them: the same presentation of the gold
document's own chunks (the ceiling of RAG for this reader). Paired: the same questions each way,
McNemar's exact test on the discordant pairs. This is what chose RagConfig.context's default;
the test split is never used here.

    .venv/bin/python benchmarks/reader_context.py [--domains support,legal,medical] [--precision fp32]

The last line is one JSON object: focused accuracy against chunks accuracy, pooled over the corpora.
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

TARGET = 1.25  # focused must read at least a quarter better to be worth a default


def gold_hits(index, pair, k: int):
    """The gold document's chunks, best first by the retriever's own score among them."""
    from assistant.rag import Hit

    gold = set(pair.doc_ids)
    ranked = [h for h in index.search(pair.question, k=len(index)) if h.chunk.doc_id in gold]
    if not ranked:
        ranked = [Hit(c, 0.0) for c in index.chunks.values() if c.doc_id in gold]
    return ranked[:k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domains", default="support,legal,medical")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--limit", type=int, default=0, help="at most this many val questions per corpus (0: all)")
    args = ap.parse_args()

    from scipy.stats import binomtest

    from assistant.approaches import make_config
    from assistant.assistants import RetrievalAssistant
    from assistant.corpus import resolve_corpus
    from assistant.embed import load_embedder
    from assistant.llm import load_llm
    from assistant.rag import RagIndex
    from evals.metrics import IdfTable, score_answer

    llm = load_llm(precision=args.precision)
    embedder = load_embedder()
    modes = ("chunks", "focused")
    rows, pooled = [], {m: [] for m in ("chunks", "focused", "oracle chunks", "oracle focused")}
    t_start = time.perf_counter()
    for domain in args.domains.split(","):
        corpus = resolve_corpus(domain)
        pairs = corpus.split("val")[: args.limit or None]
        config = make_config("rag", {})
        index = RagIndex.build(corpus.documents, embedder, config)
        idf = IdfTable.from_texts([d.text for d in corpus.documents])
        items = [{"reference": p.answer, "aliases": list(p.answer_aliases), "kind": p.kind,
                  "answer_type": p.answer_type} for p in pairs]
        questions = [p.question for p in pairs]
        retrieved = index.search_many(questions, k=config.top_k)
        oracle = [gold_hits(index, p, config.top_k) for p in pairs]
        result = {}
        for mode in modes:
            bot = RetrievalAssistant("rag", llm, corpus.system_prompt, args.max_new_tokens, index=index, context=mode)
            for name, hits in ((mode, retrieved), (f"oracle {mode}", oracle)):
                prompts = [bot.prepare(q, h)[0] for q, h in zip(questions, hits)]
                gens = llm.generate(prompts, max_new_tokens=args.max_new_tokens)
                result[name] = [score_answer(g.text, it, idf)["accuracy"] for g, it in zip(gens, items)]
        for name, scores in result.items():
            pooled[name] += scores
        f, c = result["focused"], result["chunks"]
        b10, b01 = sum(x > y for x, y in zip(f, c)), sum(x < y for x, y in zip(f, c))
        p = binomtest(b10, b10 + b01).pvalue if b10 + b01 else 1.0
        row = {"corpus": domain, "n": len(pairs), **{k: round(sum(v) / len(v), 3) for k, v in result.items()},
               "focused_vs_chunks": f"{b10} vs {b01} discordant, McNemar p={p:.3g}"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    n = len(pooled["chunks"])
    acc = {k: sum(v) / n for k, v in pooled.items()}
    f, c = pooled["focused"], pooled["chunks"]
    b10, b01 = sum(x > y for x, y in zip(f, c)), sum(x < y for x, y in zip(f, c))
    p = binomtest(b10, b10 + b01).pvalue if b10 + b01 else 1.0
    print(f"pooled over {n} val questions ({llm.source.name}, {llm.precision}, {time.perf_counter() - t_start:.0f} s): "
          + ", ".join(f"{k} {v:.3f}" for k, v in acc.items())
          + f"; focused vs chunks {b10} vs {b01} discordant pairs, McNemar p={p:.3g}")
    ratio = acc["focused"] / acc["chunks"] if acc["chunks"] else float("inf")
    print(json.dumps({"benchmark": "reader_context", "figure": "val accuracy of the RAG answer, focused context",
                      "unit": "share correct", "value": round(acc["focused"], 3), "baseline": round(acc["chunks"], 3),
                      "ratio": round(ratio, 2), "target": TARGET, "met": ratio >= TARGET and p < 0.05,
                      "oracle_focused": round(acc["oracle focused"], 3), "oracle_chunks": round(acc["oracle chunks"], 3),
                      "n": n, "p_value": round(p, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
