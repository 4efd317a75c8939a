"""LoRA training speed: our builder's settings against a plain Trainer + peft baseline.

Same model (the embedded SmolLM2-135M unless --base-model), same 256 training pairs (the
shipped corpora's train splits, repeated if fewer), same LoRA (rank 16, all linear layers),
same batch size, a fixed number of optimizer steps each:

  ours      what build_adapter uses: each batch padded to its longest example, batches
            grouped by length, bf16 autocast where the CPU/GPU runs bf16 natively
  baseline  transformers Trainer + peft with defaults: fp32, every example padded to 512
            tokens, random batches

Prints real (non-pad) tokens per second for each, the ratio, and the model FLOPs utilisation
(6 x params x real tokens / time) against a matmul peak measured here with torch.matmul in
fp32 and bf16. The first step of each is a warm-up and is not timed. The last line is one JSON
object for collection.

    .venv/bin/python benchmarks/finetune_speed.py [--steps 8] [--baseline-steps 3]
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

from assistant.corpus import DOMAINS, resolve_corpus  # noqa: E402
from assistant.errors import UserError  # noqa: E402
from assistant.finetune import (FinetuneConfig, QAExamples, data_collator, encode_examples, lora_config,  # noqa: E402
                                trainer_class, training_arguments)
from assistant.hub import quiet_libraries  # noqa: E402
from assistant.llm import cpu_has_bf16, load_llm, pick_device, resolve_precision  # noqa: E402

N_PAIRS = 256
BASELINE_LENGTH = 512


def training_examples(llm, n: int):
    """n (prompt, answer) examples from the shipped corpora's train splits, repeated if fewer."""
    examples = []
    for domain in DOMAINS:
        try:
            corpus = resolve_corpus(domain)
        except UserError as e:
            print(f"  (skipping {domain}: {e})", file=sys.stderr)
            continue
        builder = QAExamples(corpus.system_prompt)
        examples += [builder.build(p, llm) for p in (corpus.split("train") or corpus.qa)]
    if not examples:
        raise SystemExit("no Q&A pairs in corpora/: nothing to train on")
    return [examples[i % len(examples)] for i in range(n)], len(examples)


def matmul_peak(dtype_name: str, device: str, seconds: float = 2.0, n: int = 1024) -> float:
    """GFLOP/s of a square torch.matmul, best of a few timed repeats."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.matmul(a, b)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(4):
            torch.matmul(a, b)
        if device == "cuda":
            torch.cuda.synchronize()
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def step_timer():
    """A TrainerCallback that records the time and the tokens seen at the end of every step."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self):
            self.marks = []  # (time, tokens seen) after each step

        def on_step_end(self, args, state, control, **kw):
            self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    return Timer()


def run_training(name, llm_name, device, train_set, collator, args, trainer_cls):
    """Train fresh LoRA for args.max_steps steps; tokens/s over steps 2..N (step 1 is warm-up)."""
    import torch
    from peft import get_peft_model
    from transformers import PrinterCallback

    llm = load_llm(llm_name, device=device)
    model = get_peft_model(llm.model, lora_config(FinetuneConfig()))
    timer = step_timer()
    trainer = trainer_cls(model=model, args=args, train_dataset=train_set, data_collator=collator, callbacks=[timer])
    trainer.remove_callback(PrinterCallback)
    padded = []
    real_collate = trainer.data_collator

    def counting_collate(features):  # also count the padded width the model actually computes on
        batch = real_collate(features)
        padded.append(int(batch["input_ids"].numel()))
        return batch

    trainer.data_collator = counting_collate
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    (t1, k1), (tn, kn) = timer.marks[0], timer.marks[-1]
    tokens, seconds = kn - k1, tn - t1
    steps = len(timer.marks) - 1
    pad_share = 1 - kn / max(1, sum(padded[:len(timer.marks)]))
    del trainer, model, llm
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return {"name": name, "timed_steps": steps, "real_tokens": int(tokens), "seconds": round(seconds, 2),
            "tokens_per_s": round(tokens / seconds, 1), "s_per_step": round(seconds / steps, 2),
            "padding_share": round(pad_share, 3), "bf16": bool(args.bf16), "wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-model", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps for ours (the first is warm-up)")
    ap.add_argument("--baseline-steps", type=int, default=3, help="optimizer steps for the baseline")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--target", type=float, default=2.0, help="target ratio ours / baseline")
    opts = ap.parse_args()
    quiet_libraries()
    import torch
    from transformers import Trainer, TrainingArguments, default_data_collator

    device = pick_device(opts.device)
    llm = load_llm(opts.base_model, device=device)
    n_params = llm.n_params
    examples, distinct = training_examples(llm, N_PAIRS)
    tok = llm.tokenizer
    print(f"model {llm.source.name}: {n_params / 1e6:.1f}M parameters, device {device}, "
          f"{torch.get_num_threads()} threads; {N_PAIRS} training examples ({distinct} distinct pairs), batch {opts.batch_size}")

    # bf16 is timed only where it is native: emulated bf16 matmuls on a CPU without AVX-512-BF16/AMX
    # run at a fraction of a GFLOP/s and are never used by our builder there (precision auto -> fp32).
    native_bf16 = torch.cuda.is_bf16_supported() if device == "cuda" else cpu_has_bf16()
    peaks = {d: round(matmul_peak(d, device), 1) for d in (("fp32", "bf16") if native_bf16 else ("fp32",))}
    print("matmul peak: " + ", ".join(f"{d} {v} GFLOP/s" for d, v in peaks.items())
          + ("" if native_bf16 else " (no native bf16 on this CPU: both runs train in fp32)"))

    # Ours: build_adapter's own encoding, collator, sampler and TrainingArguments.
    config = FinetuneConfig(batch_size=opts.batch_size, max_steps=opts.steps, probe_questions=0, warmup_ratio=0.0)
    ours_set, _ = encode_examples(tok, examples, config.max_length)
    ours_args = training_arguments(config, Path("/tmp/ft-speed-ours"), device, has_val=False,
                                   precision=resolve_precision("auto", device))  # what build_adapter resolves
    ours_args.save_strategy = "no"
    ours = run_training("ours", opts.base_model, device, ours_set, data_collator(tok), ours_args,
                        trainer_class(config.seed))

    # Baseline: the plain recipe: pad everything to 512, fp32, random batches, default collator.
    def pad_to_max(enc):
        n = BASELINE_LENGTH - len(enc["input_ids"])
        return {"input_ids": enc["input_ids"] + [tok.pad_token_id] * n, "attention_mask": enc["attention_mask"] + [0] * n,
                "labels": enc["labels"] + [-100] * n}

    base_set, _ = encode_examples(tok, examples, BASELINE_LENGTH)
    base_set = [pad_to_max(e) for e in base_set]
    base_args = TrainingArguments(output_dir="/tmp/ft-speed-baseline", per_device_train_batch_size=opts.batch_size,
                                  max_steps=opts.baseline_steps, learning_rate=2e-4, save_strategy="no", report_to="none",
                                  disable_tqdm=True, use_cpu=device == "cpu", include_num_input_tokens_seen="non_padding",
                                  logging_steps=1, seed=0)
    baseline = run_training("baseline", opts.base_model, device, base_set, default_data_collator, base_args, Trainer)

    for r in (ours, baseline):
        peak = peaks["bf16" if r["bf16"] else "fp32"]
        r["model_gflops"] = round(6 * n_params * r["tokens_per_s"] / 1e9, 1)
        r["mfu"] = round(r["model_gflops"] / peak, 3)
        print(f"{r['name']:<9} {r['tokens_per_s']:>8.1f} real tokens/s  {r['s_per_step']:>6.2f} s/step  "
              f"padding {r['padding_share']:.0%}  {'bf16' if r['bf16'] else 'fp32'}  "
              f"{r['model_gflops']} GFLOP/s = MFU {r['mfu']:.1%} of the {('bf16' if r['bf16'] else 'fp32')} matmul peak "
              f"({r['timed_steps']} timed steps)")
    ratio = ours["tokens_per_s"] / baseline["tokens_per_s"]
    print(f"ratio ours / baseline: {ratio:.2f}x (target {opts.target}x)")
    print(json.dumps({"benchmark": "finetune_speed", "figure": "LoRA training throughput (real tokens)",
                      "unit": "tokens/s", "value": ours["tokens_per_s"], "baseline": baseline["tokens_per_s"],
                      "ratio": round(ratio, 2), "target": opts.target, "met": ratio >= opts.target}))


if __name__ == "__main__":
    main()
