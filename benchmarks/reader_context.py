"""Which RAG context can the embedded model read? `focused` vs `chunks`, chat vs completion, on VAL.

For each shipped corpus: one RAG index (the rag approach's defaults), the embedded base model,
greedy answers to every val question, scored by the harness's own accuracy rule (evals.metrics),
for each context presentation (`chunks`, `focused`) and prompt format (`chat`, `completion`);
and the oracle beside them: the same presentation of the gold document's own chunks (the ceiling
of RAG for this reader). Paired: the same questions each way, McNemar's exact test on the
discordant pairs against today's default (chunks, chat). This is what chose RagConfig.context's
and RagConfig.prompt_format's defaults; the test split is never used here. `--split train` asks
the train split's questions instead (a seeded sample with --limit): RAG never learns from them, so
for the reader they are unseen questions too, and there are six times as many as in val.

    .venv/bin/python benchmarks/reader_context.py [--domains support,legal,medical] [--formats chat,completion]
        [--no-oracle] [--precision fp32] [--limit N] [--split val|train] [--contexts chunks,focused]

The last line is one JSON object: the best variant's accuracy against chunks/chat, pooled over the corpora.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET = 1.25  # a new default must read at least a quarter better to be worth changing
BASELINE = "chunks/chat"


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
    ap.add_argument("--formats", default="chat,completion")
    ap.add_argument("--no-oracle", action="store_true", help="skip the gold-document ceiling (half the time)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions per corpus, a seeded sample "
                    "(0: all)")
    ap.add_argument("--split", default="val", choices=("val", "train"), help="whose questions (never test)")
    ap.add_argument("--contexts", default="chunks,focused")
    args = ap.parse_args()

    from assistant.approaches import make_config
    from assistant.assistants import RetrievalAssistant
    from assistant.corpus import resolve_corpus
    from assistant.embed import load_embedder
    from assistant.llm import load_llm
    from assistant.rag import RagIndex
    from evals.metrics import IdfTable, score_answer
    from evals.stats import mcnemar

    llm = load_llm(precision=args.precision)
    embedder = load_embedder()
    variants = [(c, f) for c in args.contexts.split(",") for f in args.formats.split(",")]
    pooled: dict[str, list[float]] = {}
    t_start = time.perf_counter()
    for domain in args.domains.split(","):
        corpus = resolve_corpus(domain)
        pairs = corpus.split(args.split)
        if args.limit and args.limit < len(pairs):
            pairs = sorted(random.Random(0).sample(pairs, args.limit), key=pairs.index)
        config = make_config("rag", {})
        index = RagIndex.build(corpus.documents, embedder, config)
        idf = IdfTable.from_texts([d.text for d in corpus.documents])
        items = [{"question": p.question, "reference": p.answer, "aliases": list(p.answer_aliases), "kind": p.kind,
                  "answer_type": p.answer_type} for p in pairs]
        questions = [p.question for p in pairs]
        retrieved = index.search_many(questions, k=config.top_k)
        oracle = None if args.no_oracle else [gold_hits(index, p, config.top_k) for p in pairs]
        result = {}
        for context, fmt in variants:
            bot = RetrievalAssistant("rag", llm, corpus.system_prompt, args.max_new_tokens, index=index, context=context,
                                     prompt_format=fmt)
            for name, hits in ((f"{context}/{fmt}", retrieved), (f"oracle {context}/{fmt}", oracle)):
                if hits is None:
                    continue
                prompts = [bot.prepare(q, h)[0] for q, h in zip(questions, hits)]
                gens = llm.generate(prompts, max_new_tokens=args.max_new_tokens)
                texts = [g.text.splitlines()[0].strip() if bot.completes and g.text.strip() else g.text for g in gens]
                result[name] = [score_answer(t, it, idf)["accuracy"] for t, it in zip(texts, items)]
        for name, scores in result.items():
            pooled.setdefault(name, []).extend(scores)
        row = {"corpus": domain, "n": len(pairs), **{k: round(sum(v) / len(v), 3) for k, v in result.items()}}
        for name in result:
            if name != BASELINE and not name.startswith("oracle"):
                b10, b01, p = mcnemar(result[name], result[BASELINE])
                row[f"{name} vs {BASELINE}"] = f"{b10} vs {b01} discordant, McNemar p={p:.3g}"
        print(json.dumps(row), flush=True)
    n = len(pooled[BASELINE])
    acc = {k: sum(v) / n for k, v in pooled.items()}
    print(f"pooled over {n} {args.split} questions ({llm.source.name}, {llm.precision}, {time.perf_counter() - t_start:.0f} s): "
          + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    tests = {}
    for name in acc:
        if name != BASELINE and not name.startswith("oracle"):
            b10, b01, p = mcnemar(pooled[name], pooled[BASELINE])
            tests[name] = p
            print(f"  {name} vs {BASELINE}: {b10} vs {b01} discordant pairs, McNemar p={p:.3g}")
    best = max((k for k in acc if not k.startswith("oracle")), key=acc.get)
    ratio = acc[best] / acc[BASELINE] if acc[BASELINE] else float("inf")
    p = float(tests.get(best, 1.0))
    print(json.dumps({"benchmark": "reader_context", "figure": f"{args.split} accuracy of the RAG answer, {best}",
                      "unit": "share correct", "value": round(acc[best], 3), "baseline": round(acc[BASELINE], 3),
                      "ratio": round(ratio, 2), "target": TARGET, "met": bool(ratio >= TARGET and p < 0.05),
                      **{f"oracle_{k.split(' ', 1)[1]}": round(v, 3) for k, v in acc.items() if k.startswith("oracle")},
                      "n": n, "p_value": round(p, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
