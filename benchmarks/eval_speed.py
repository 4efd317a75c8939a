"""Evaluation speed: the harness's answering and option-scoring paths now against the ones they
replaced, same questions.

  before  the batched path of the harness until this benchmark's changes: fp32 weights run under
          bf16 autocast where the CPU has native bf16 (batch 8). Under inference_mode autocast
          casts every fp32 weight again at every forward, that is at every generated token.
          Options (closed-form items, bias probes) scored one prompt per call.
  now     what load_llm gives and the assistants use: the weights themselves in bf16 (fp32
          where the CPU has no native bf16: both paths are then the same), each assistant's own
          batch (32 for the chat prompts of base and ft, 8 for rag's long prompts) or --batch-size,
          for answers and for option scoring alike.

Both answer the same questions of the val split (never test: this benchmark may choose a
default) as the harness asks them: base (the chat prompt) and rag (an index built here, its
focused context and completion prompt), greedy, the harness's 64 new tokens. Rounds alternate
the two paths (--repeats; the median counts), so that a change in the load of a shared machine
falls on both. Answers are compared one by one: bf16 rounds the residual stream where fp32
did not, so a greedy token can differ; the benchmark says how many answers differ and what that
does to accuracy (the harness's own scorer, paired, McNemar). Option scoring runs on the corpus's
bias probes (three options after a context and question, as the harness asks them); the
benchmark says how many probes' chosen option differs between the paths.

    .venv/bin/python benchmarks/eval_speed.py [--domain support] [--n 54] [--n-probes N] [--batch-size N] [--repeats 2]

The last line is one JSON object for collectors: questions/s now against before.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TARGET = 3.0
BEFORE_BATCH = 8  # ClosedBookAssistant's batch before this change


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domain", default="support")
    ap.add_argument("--n", type=int, default=None, help="val questions (default: all)")
    ap.add_argument("--batch-size", type=int, default=None, help="the new path's batch (default: each assistant's own)")
    ap.add_argument("--n-probes", type=int, default=None, help="bias probes scored (default: all)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch

    from assistant import approaches
    from assistant.assistants import ClosedBookAssistant
    from assistant.corpus import resolve_corpus
    from assistant.llm import load_llm, resolve_precision
    from assistant.runs import Run
    from evals.metrics import IdfTable, score_answer
    from evals.stats import mcnemar

    corpus = resolve_corpus(args.domain)
    pairs = corpus.split("val")[: args.n]
    questions = [p.question for p in pairs]
    probes = corpus.probes[: args.n_probes]
    probe_questions = [f"{it['context']} {it['question']}" for it in probes]  # as the harness asks them
    probe_options = [[it["ans0"], it["ans1"], it["ans2"]] for it in probes]
    idf = IdfTable.from_texts([d.text for d in corpus.documents])
    precision = resolve_precision("auto", "cpu")

    with tempfile.TemporaryDirectory() as out:
        run = Run.create(out, corpus=corpus, config={}, approaches=["rag"], command="benchmark")
        approaches.get("rag").build(run, corpus, approaches.make_config("rag", {}), precision=precision)
        rag = approaches.get("rag").load(run, device="cpu", precision=precision)
        now = {"base": ClosedBookAssistant("base", rag.llm, corpus.system_prompt), "rag": rag}  # one model
        before_llm = load_llm(device="cpu", precision=precision)
        before_llm.model.float()  # fp32 weights; precision stays bf16: autocast, as before
        # the same assistants over the fp32 weights: two models in memory in all
        before = {ap: dataclasses.replace(a, llm=before_llm, batch_size=BEFORE_BATCH) for ap, a in now.items()}
        for a in now.values():
            a.batch_size = args.batch_size or a.batch_size
        batch = {ap: a.batch_size for ap, a in now.items()}
        for a in (*now.values(), *before.values()):
            a.answer(questions[:2])  # warm-up: first-call allocations

        seconds = {(path, ap): [] for path in ("before", "now") for ap in now}
        option_seconds = {(path, ap): [] for path in ("before", "now") for ap in now}
        answers, chosen = {}, {}
        for _ in range(args.repeats):
            for path, assistants in (("before", before), ("now", now)):
                for ap, assistant in assistants.items():
                    t0 = time.perf_counter()
                    answers[path, ap] = [a.text for a in assistant.answer(questions)]
                    seconds[path, ap].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    if path == "before":  # one prompt per call, as the harness asked before
                        scored = [assistant.option_scores([q], [o])[0] for q, o in zip(probe_questions, probe_options)]
                    else:
                        scored = assistant.option_scores(probe_questions, probe_options)
                    option_seconds[path, ap].append(time.perf_counter() - t0)
                    chosen[path, ap] = [max(range(len(s)), key=s.__getitem__) for s in scored]

    def correct(texts):
        return [score_answer(t, {"question": p.question, "reference": p.answer, "aliases": list(p.answer_aliases),
                                 "kind": p.kind or "unseen", "answer_type": p.answer_type}, idf)["accuracy"]
                for t, p in zip(texts, pairs)]

    print(f"{len(questions)} {args.domain} val questions, {precision}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} rounds; before: fp32 weights{' + bf16 autocast' if precision == 'bf16' else ''}, "
          f"batch {BEFORE_BATCH}; now: {precision} weights, batch {batch}")
    def medians(seconds):  # per approach (before, now), and each path's sum over the approaches
        per = {ap: tuple(statistics.median(seconds[path, ap]) for path in ("before", "now")) for ap in now}
        return per, {path: sum(v[k] for v in per.values()) for k, path in enumerate(("before", "now"))}

    def differing(results, ap):
        return sum(a != b for a, b in zip(results["before", ap], results["now", ap]))

    per, total = medians(seconds)
    differ = {ap: differing(answers, ap) for ap in now}
    for ap, (s_before, s_now) in per.items():
        acc_b, acc_n = correct(answers["before", ap]), correct(answers["now", ap])
        b10, b01, p = mcnemar(acc_n, acc_b)
        print(f"  {ap:<5} before {len(questions) / s_before:5.2f} q/s  now {len(questions) / s_now:5.2f} q/s  "
              f"({s_before / s_now:.2f}x); answers differ {differ[ap]}/{len(questions)}; accuracy before "
              f"{sum(acc_b) / len(acc_b):.1%}, now {sum(acc_n) / len(acc_n):.1%} ({b10} vs {b01} discordant, p={p:.2g})")
    n_all = len(questions) * len(now)
    rate_b, rate_n = n_all / total["before"], n_all / total["now"]
    ratio = rate_n / rate_b
    print(f"base and rag together: before {rate_b:.2f} q/s, now {rate_n:.2f} q/s: {ratio:.2f}x (target {TARGET}x)")
    per_options, options_total = medians(option_seconds)
    chosen_differ = {ap: differing(chosen, ap) for ap in now}
    for ap, (s_before, s_now) in per_options.items():
        print(f"  {ap:<5} bias probes: before {len(probes) / s_before:5.2f}/s  now {len(probes) / s_now:5.2f}/s  "
              f"({s_before / s_now:.2f}x); chosen option differs on {chosen_differ[ap]}/{len(probes)}")
    # the harness's evaluation work of both kinds: each val question answered and each probe scored
    work_b, work_n = total["before"] + options_total["before"], total["now"] + options_total["now"]
    print(f"answers and probes together: {work_b:.1f} s before, {work_n:.1f} s now: {work_b / work_n:.2f}x")
    print(json.dumps({"benchmark": "eval_speed", "figure": "questions answered per second (base and rag, val)",
                      "unit": "questions/s", "value": round(rate_n, 3), "baseline": round(rate_b, 3),
                      "ratio": round(ratio, 2), "target": TARGET, "met": ratio >= TARGET, "precision": precision,
                      "batch": batch, "n": len(questions), "answers_differ": differ,
                      "probes": len(probes), "probe_ratio": round(options_total["before"] / options_total["now"], 2),
                      "probe_choice_differs": chosen_differ, "with_probes_ratio": round(work_b / work_n, 2),
                      "rounds": args.repeats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
