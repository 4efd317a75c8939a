"""Answer quality with and without the repetition guard (llm.NO_REPEAT_NGRAM), side by side.

The same questions (the quick test subset of a domain), the same real base model and RAG
index, greedy decoding; only `llm.no_repeat_ngram` differs (0 = off). For `base` and `rag` it
prints the harness's accuracy (with its 95% CI), the mean key-fact recall and the share of
answers that loop (some 8-word run said twice). The last line is one JSON object.

    .venv/bin/python benchmarks/repetition_guard.py [--domain support] [--max-new-tokens 64]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant.assistants import ClosedBookAssistant, RetrievalAssistant  # noqa: E402
from assistant.corpus import resolve_corpus  # noqa: E402
from assistant.embed import load_embedder  # noqa: E402
from assistant.hub import quiet_libraries  # noqa: E402
from assistant.llm import NO_REPEAT_NGRAM, load_llm  # noqa: E402
from assistant.rag import RagIndex  # noqa: E402
from evals import metrics, stats  # noqa: E402
from evals.harness import EvalConfig, select_items  # noqa: E402


def loops(text: str, n: int = 8) -> bool:
    """Whether some run of n words occurs twice in the answer."""
    words = text.lower().split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(grams) != len(set(grams))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default="support")
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    quiet_libraries()

    corpus = resolve_corpus(args.domain)
    items = select_items(corpus, EvalConfig(quick=True)).test
    idf = metrics.IdfTable.from_texts([d.text for d in corpus.documents])
    llm = load_llm(device=args.device)
    index = RagIndex.build(corpus.documents, load_embedder(device=args.device))
    assistants = [ClosedBookAssistant("base", llm, corpus.system_prompt, args.max_new_tokens),
                  RetrievalAssistant("rag", llm, corpus.system_prompt, args.max_new_tokens, index=index)]
    print(f"{len(items)} quick test items of '{corpus.name}', model {llm.source.name}, "
          f"max {args.max_new_tokens} new tokens, greedy")

    results = {}
    for a in assistants:
        per_item = {}
        for guard in (0, NO_REPEAT_NGRAM):
            llm.no_repeat_ngram = guard
            answers = [x.text for x in a.answer([it["question"] for it in items])]
            scores = [metrics.score_answer(text, it, idf) for text, it in zip(answers, items)]
            per_item[guard] = [s["accuracy"] for s in scores]
            row = {"accuracy": stats.mean_ci(per_item[guard]),
                   "key_fact_recall": stats.mean_ci([s["key_fact_recall"] for s in scores]),
                   "looping": stats.mean_ci([float(loops(t)) for t in answers])}
            results[f"{a.name} guard={guard}"] = row
            print(f"{a.name:4} guard {guard}: accuracy {stats.fmt(row['accuracy'])}, key-fact recall "
                  f"{stats.fmt(row['key_fact_recall'], pct=False)}, looping answers {stats.fmt(row['looping'])}")
        diff = stats.paired_difference(per_item[NO_REPEAT_NGRAM], per_item[0])
        results[f"{a.name} accuracy difference"] = diff
        print(f"{a.name:4} accuracy with the guard minus without: {diff['diff']:+.0%} (paired 95% CI "
              f"{diff['ci'][0]:+.0%} to {diff['ci'][1]:+.0%}, n={diff['n']}, {diff['test']})")
    print(json.dumps({"benchmark": "repetition_guard", "ngram": NO_REPEAT_NGRAM, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
