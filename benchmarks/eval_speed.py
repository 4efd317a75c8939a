"""Evaluation speed: batched generation (what the harness does) vs one question at a time.

The same questions (a corpus's test split), the same real base model (the embedded default
unless --base-model), greedy decoding, the same token limit. Prints both figures and the ratio;
the last line is one JSON object for collectors.

    .venv/bin/python benchmarks/eval_speed.py [--domain legal] [--n 16] [--batch-size 8]
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

TARGET = 3.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default="legal")
    ap.add_argument("--n", type=int, default=16, help="questions")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--base-model", default=None)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    from assistant.assistants import ClosedBookAssistant
    from assistant.corpus import resolve_corpus
    from assistant.llm import load_llm

    corpus = resolve_corpus(args.domain)
    questions = [q.question for q in corpus.split("test")][: args.n]
    llm = load_llm(args.base_model, device=args.device)
    batched = ClosedBookAssistant("base", llm, corpus.system_prompt, args.max_new_tokens, batch_size=args.batch_size)
    single = ClosedBookAssistant("base", llm, corpus.system_prompt, args.max_new_tokens, batch_size=1)
    batched.answer(questions[:2])  # warm-up (first-call allocations) for both paths
    single.answer(questions[:1])

    t0 = time.perf_counter()
    one_by_one = [single.answer([q])[0] for q in questions]
    seq_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    together = batched.answer(questions)
    bat_s = time.perf_counter() - t0

    same = sum(a.text == b.text for a, b in zip(one_by_one, together))
    seq_rate, bat_rate = len(questions) / seq_s, len(questions) / bat_s
    ratio = bat_rate / seq_rate
    print(f"model {llm.source.name} on {llm.device}, {len(questions)} {args.domain} test questions, "
          f"max {args.max_new_tokens} new tokens, greedy")
    print(f"one at a time: {seq_s:.1f} s ({seq_rate:.2f} questions/s)")
    print(f"batched (batch {args.batch_size}): {bat_s:.1f} s ({bat_rate:.2f} questions/s)")
    print(f"speed-up {ratio:.2f}x (target {TARGET}x); identical answers {same}/{len(questions)} "
          f"(batched padding can change a greedy token in low precision)")
    print(json.dumps({"benchmark": "eval_speed", "figure": "questions answered per second, batched",
                      "unit": "questions/s", "value": round(bat_rate, 3), "baseline": round(seq_rate, 3),
                      "ratio": round(ratio, 2), "target": TARGET, "met": ratio >= TARGET}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
