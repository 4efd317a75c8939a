"""LoRA training speed and memory: our builder against TRL's SFTTrainer (and a plain Trainer).

Same model (the embedded SmolLM2-135M-Instruct unless --base-model), same examples (--pairs
training pairs of the shipped support corpus, built by the project's own QAExamples and
repeated if fewer), same LoRA (FinetuneConfig's: rank 64, alpha 128, all linear layers, no
dropout), same optimiser (AdamW, lr 2e-4, cosine, seed 0), same precision
(llm.resolve_precision("auto"): bf16 autocast where the CPU runs bf16 natively, the frozen
weights then in bf16 for ours and TRL; else fp32), batch 8, --warmup steps + --steps timed steps:

  ours              what build_adapter uses: its encoding, its collator (each batch padded to
                    its longest example), batches grouped by length, the vocabulary projection
                    only at the answer positions, the adapted layers' bf16 input kept as it is,
                    eager attention for batches up to finetune.EAGER_ATTENTION_UP_TO tokens wide
                    (bf16 on a CPU; SDPA above), each decoder layer compiled (torch.compile, as
                    build_adapter does for builds of finetune.COMPILE_FROM_STEPS steps or more:
                    the compiling falls in the warm-up steps, printed as "warm-up"), and so
                    recomputing activations in backward (gradient checkpointing, which
                    finetune.settle turns on where the layers are compiled)
  ours_no_checkpointing  the same keeping every activation for backward (not in the default set)
  trl               TRL SFTTrainer, prompt-completion dataset, completion-only loss, its
                    default collator (pads each batch to its longest; random batches)
  trl_padding_free  the same with padding_free=True (TRL requires max_length=None then)
  trl_packing       the same with packing=True (bfd, max_length 1024); --pack-rows rows of
                    1024 tokens per step (1 row: about 9 examples, the tokens of a batch of 8)
  trl_compile       the default collator with torch_compile=True (TrainingArguments': the whole
                    model compiled), what a TRL user would turn on for speed
  plain             a plain transformers Trainer + peft: every example padded to 512 tokens,
                    random batches, default collator (the baseline of this benchmark before TRL)

TRL runs without gradient checkpointing (SFTConfig turns it on by default: in eager mode it
trades a fifth of the speed for memory, so TRL's fastest setting is without). The fastest of the
TRL configurations is the named baseline. The timed steps leave out the warm-up steps, where
compiling happens: their time is printed beside them. Two by default: ours compiles one graph per
attention implementation, and its length-grouped order starts with the widest batch (SDPA), then
narrower ones (eager attention).

Each training runs in its own subprocess, one after the other, so that its peak resident
memory (assistant.memory.PeakMemory) is its own; --repeats rounds over the configurations
(interleaved, so that a change in the load of a shared machine falls on all of them), each
training from a fresh adapter on the same data. Real tokens/s is the median over the rounds
of the timed steps' non-pad tokens (the loss is on the answer tokens among them) per second.
The plain Trainer computes 512 x 8 tokens a step, several times the others: it takes
--plain-steps timed steps in --plain-repeats rounds (default 2 steps, 1 round: context only).

Model FLOPs utilisation uses the LoRA FLOP count, not the usual 6N: the base weights are
frozen, so backward computes input gradients (2 FLOPs per weight per token) but no weight
gradients. Per real token: 4 x the decoder's linear weights (forward + input-gradient
backward) + 6 x the LoRA weights (they do get weight gradients) + attention scores and values
(forward and backward, over each example's causal context) + 4 x the vocabulary projection at
the answer tokens only (the loss needs no logits elsewhere). The embedding lookup and the
unneeded input gradient of the first layer are left out. The peak is a torch.matmul loop in
the same precision, measured in this run before and after the trainings (the higher counts).
6N (all parameters) is printed beside it for comparison.

    python benchmarks/finetune_speed.py [--steps 8] [--pairs 256] [--repeats 3] [--plain-steps 2]
    python benchmarks/finetune_speed.py --steps 2 --pairs 64 --repeats 1 --plain-steps 1   # short check

The last line is one JSON object for collection.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

CONFIGS = ("ours", "ours_no_checkpointing", "trl", "trl_padding_free", "trl_packing", "trl_compile", "plain")
TRL_CONFIGS = ("trl", "trl_padding_free", "trl_packing", "trl_compile")
OPTIONAL = ("ours_no_checkpointing", "trl_compile")  # not in the default set
PLAIN_LENGTH = 512
PACK_LENGTH = 1024  # SFTConfig's default max_length, the packed row length
DOMAIN = "support"
LR = 2e-4
RESULT = "RESULT "  # prefix of the worker's one result line


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- the worker: one configuration, in its own process ------------------------------------------
def training_examples(llm, n: int) -> tuple[list, int]:
    """n examples from the support corpus's train split via the project's builder, repeated if fewer."""
    from assistant.corpus import resolve_corpus
    from assistant.finetune import QAExamples

    corpus = resolve_corpus(DOMAIN)
    pairs = corpus.split("train") or corpus.qa
    builder = QAExamples(corpus.system_prompt)
    examples = [builder.build(p, llm) for p in pairs[:n]]
    return [examples[i % len(examples)] for i in range(n)], len(examples)


def callbacks():
    """A TrainerCallback recording the time at the end of every step and every logged loss."""
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        def __init__(self):
            self.marks, self.losses, self.begin = [], [], None

        def on_train_begin(self, args, state, control, **kw):
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self.marks.append(time.perf_counter())

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.losses.append(round(float(logs["loss"]), 4))

    return Recorder()


def counting(collate, batches: list):
    """Wrap a collator: record each batch's (non-pad tokens, loss tokens, computed width) in order.
    Batch k is consumed by step k + 1 whatever the loader prefetches."""
    def collate_and_count(features):
        batch = collate(features)
        ids = batch["input_ids"]
        real = int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(ids.numel())
        batches.append((real, int((batch["labels"] != -100).sum()), int(ids.numel())))
        return batch

    return collate_and_count


def make_trainer(name: str, llm, examples, opts, precision: str, recorder):
    """The trainer of configuration `name`, on a fresh LoRA adapter (seed 0)."""
    import torch
    from transformers import PrinterCallback, set_seed

    from assistant.finetune import FinetuneConfig, compile_blocks, data_collator, encode_examples, lora_config
    from assistant.finetune import can_compile, lora_model, settle, trainer_class, training_arguments

    tok = llm.tokenizer
    # compiled as build_adapter compiles a build of COMPILE_FROM_STEPS steps or more (where torch.compile
    # finds a C++ compiler), and so (settle) recomputing activations in backward, unless ours_no_checkpointing
    config = FinetuneConfig(batch_size=opts.batch_size, max_steps=opts.steps + opts.warmup, probe_questions=0,
                            warmup_ratio=0.0, learning_rate=LR, compile="on" if can_compile() else "off",
                            gradient_checkpointing="off" if name == "ours_no_checkpointing" else "auto")
    common = dict(per_device_train_batch_size=opts.batch_size, max_steps=opts.steps + opts.warmup, learning_rate=LR,
                  lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.0, save_strategy="no", report_to="none",
                  disable_tqdm=True, use_cpu=True, logging_steps=1, seed=0, data_seed=0, bf16=precision == "bf16",
                  dataloader_num_workers=0)
    out = f"/tmp/ft-speed-{name}"
    set_seed(0)
    if name.startswith("ours"):  # build_adapter's own model, encoding, collator, sampler, loss and TrainingArguments
        train_set, _ = encode_examples(tok, examples, config.max_length)
        config = settle(config, len(train_set))
        args = training_arguments(config, Path(out), "cpu", has_val=False, precision=precision)
        args.save_strategy = "no"
        model = lora_model(llm, config, precision)
        if config.compile == "on":
            compile_blocks(model)
        trainer = trainer_class(config.seed)(model=model, args=args, train_dataset=train_set,
                                             data_collator=data_collator(tok), callbacks=[recorder])
    elif name == "plain":
        from peft import get_peft_model
        from transformers import Trainer, TrainingArguments, default_data_collator

        def pad_to_max(enc):
            n = PLAIN_LENGTH - len(enc["input_ids"])
            return {"input_ids": enc["input_ids"] + [tok.pad_token_id] * n,
                    "attention_mask": enc["attention_mask"] + [0] * n, "labels": enc["labels"] + [-100] * n}

        train_set = [pad_to_max(e) for e in encode_examples(tok, examples, PLAIN_LENGTH)[0]]
        model = get_peft_model(llm.model, lora_config(config))
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=out, **common), train_dataset=train_set,
                          data_collator=default_data_collator, callbacks=[recorder])
    else:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        from assistant.finetune import end_of_turn

        eot = end_of_turn(tok)  # what our encoding appends; TRL would append its eos, the same token here
        data = Dataset.from_list([{"prompt": e.prompt, "completion": e.answer + eot} for e in examples])
        kind = dict(trl=dict(max_length=config.max_length),
                    trl_compile=dict(max_length=config.max_length, torch_compile=True),
                    trl_padding_free=dict(padding_free=True, max_length=None),
                    trl_packing=dict(packing=True, packing_strategy="bfd", max_length=PACK_LENGTH))[name]
        if name == "trl_packing":
            common["per_device_train_batch_size"] = opts.pack_rows
        args = SFTConfig(output_dir=out, completion_only_loss=True, activation_checkpointing=False, **common, **kind)
        if precision == "bf16":  # the frozen weights in bf16, as TRL's examples load a model for bf16 training
            llm.model.to(torch.bfloat16)
        trainer = SFTTrainer(model=llm.model, args=args, train_dataset=data, processing_class=tok,
                             peft_config=lora_config(config), callbacks=[recorder])
    trainer.remove_callback(PrinterCallback)
    return trainer


def worker(name: str, opts) -> dict:
    """Train configuration `name` once from a fresh adapter: timings, losses and peak memory."""
    import torch

    from assistant.hub import quiet_libraries
    from assistant.llm import load_llm, resolve_precision
    from assistant.memory import PeakMemory

    quiet_libraries()
    if name in TRL_CONFIGS:
        import trl  # noqa: F401  (imported before the memory block, as in a TRL user's process)
    precision = resolve_precision("auto", "cpu")
    with PeakMemory() as memory:
        rss_start = memory.figures()["peak_rss_mb"]
        llm = load_llm(opts.base_model, device="cpu")
        examples, distinct = training_examples(llm, opts.pairs)
        recorder, batches = callbacks(), []
        trainer = make_trainer(name, llm, examples, opts, precision, recorder)
        trainer.data_collator = counting(trainer.data_collator, batches)
        trainer.train()
    warm = opts.warmup
    steps = len(recorder.marks) - warm
    seconds = recorder.marks[-1] - recorder.marks[warm - 1]
    timed = batches[warm:warm + steps]
    real = sum(b[0] for b in timed)
    return {"name": name, "precision": precision, "threads": torch.get_num_threads(), "distinct_pairs": distinct,
            "tokens_per_s": real / seconds, "timed_steps": steps, "seconds": seconds,
            "step_s": [round(b - a, 2) for a, b in zip(recorder.marks[warm - 1:], recorder.marks[warm:])],
            "warmup_s": round(recorder.marks[warm - 1] - recorder.begin, 1),
            "real_tokens": real, "trained_tokens": sum(b[1] for b in timed), "computed_tokens": sum(b[2] for b in timed),
            "losses": recorder.losses, "rss_start_mb": rss_start, **memory.figures()}


def flop_terms(opts) -> dict:
    """The sizes the LoRA FLOP count needs, from the model and the examples themselves."""
    import torch
    from peft import get_peft_model

    from assistant.finetune import FinetuneConfig, encode_examples, lora_config
    from assistant.llm import load_llm

    llm = load_llm(opts.base_model, device="cpu")
    enc, _ = encode_examples(llm.tokenizer, training_examples(llm, opts.pairs)[0], FinetuneConfig().max_length)
    cfg = llm.model.config
    body = sum(m.weight.numel() for n, m in llm.model.named_modules()
               if isinstance(m, torch.nn.Linear) and not n.endswith("lm_head"))
    head = llm.model.get_output_embeddings().weight.numel()
    attn_dim = cfg.num_attention_heads * (getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads)
    lengths = [len(e["input_ids"]) for e in enc]
    n_params = llm.n_params
    lora = sum(p.numel() for p in get_peft_model(llm.model, lora_config(FinetuneConfig())).parameters()
               if p.requires_grad)
    return {"body_linear": body, "lm_head": head, "lora": lora, "n_params": n_params, "layers": cfg.num_hidden_layers,
            "attn_dim": attn_dim, "mean_context": sum(n * (n + 1) / 2 for n in lengths) / sum(lengths),
            "answer_share": sum(sum(x != -100 for x in e["labels"]) for e in enc) / sum(lengths),
            "mean_length": sum(lengths) / len(lengths), "source": llm.source.name}


# -- the parent: peaks, the configurations one after the other, the figures ------------------
def matmul_peak(dtype_name: str, seconds: float = 2.0, n: int = 1024) -> float:
    """GFLOP/s of a square torch.matmul on the CPU, best of the timed repeats."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.matmul(a, b)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        for _ in range(4):
            torch.matmul(a, b)
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
    return best


def lora_flops_per_token(f: dict) -> float:
    """Model FLOPs per real token of a LoRA training step (see the module docstring)."""
    attention = 3 * 2 * 2 * f["layers"] * f["attn_dim"] * f["mean_context"]  # QK^T and AV; backward 2x forward
    return 4 * f["body_linear"] + 6 * f["lora"] + attention + 4 * f["lm_head"] * f["answer_share"]


def run_worker(name: str, opts) -> dict:
    steps = opts.plain_steps if name == "plain" else opts.steps
    argv = [sys.executable, __file__, "--worker", name, "--steps", str(steps), "--pairs", str(opts.pairs),
            "--batch-size", str(opts.batch_size), "--pack-rows", str(opts.pack_rows), "--warmup", str(opts.warmup)]
    if opts.base_model:
        argv += ["--base-model", opts.base_model]
    at_start, t0 = load(), time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode or not lines:
        raise SystemExit(f"configuration {name} failed (exit {proc.returncode}): {proc.stdout[-2000:]}")
    return {**json.loads(lines[-1][len(RESULT):]), "wall_s": round(time.perf_counter() - t0, 1), "load": at_start}


def summarise(runs: list[dict]) -> dict:
    """One configuration over its repeats: the median tokens/s, the highest peak RSS."""
    median = sorted(runs, key=lambda r: r["tokens_per_s"])[len(runs) // 2]
    return {"name": median["name"], "tokens_per_s": round(median["tokens_per_s"], 1),
            "repeats_tokens_per_s": [round(r["tokens_per_s"], 1) for r in runs],
            "s_per_step": round(median["seconds"] / median["timed_steps"], 2), "timed_steps": median["timed_steps"],
            "warmup_s": median["warmup_s"],
            "real_tokens_per_step": round(median["real_tokens"] / median["timed_steps"]),
            "trained_tokens_per_step": round(median["trained_tokens"] / median["timed_steps"]),
            "padding_share": round(1 - median["real_tokens"] / median["computed_tokens"], 3),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "losses": median["losses"],
            "mean_loss": round(statistics.mean(median["losses"]), 4), "loads": [r["load"] for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-model", default=None)
    ap.add_argument("--steps", type=int, default=8, help="timed optimizer steps, after the warm-up steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (compiling), each configuration")
    ap.add_argument("--plain-steps", type=int, default=2,
                    help="timed steps of the plain Trainer (each computes 512 x batch tokens: the slowest by far)")
    ap.add_argument("--plain-repeats", type=int, default=1, help="rounds the plain Trainer takes part in")
    ap.add_argument("--pairs", type=int, default=256, help="training examples (support train pairs)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds over the configurations; the median counts")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--pack-rows", type=int, default=1, help="packed rows of 1024 tokens per step (trl_packing)")
    ap.add_argument("--configs", default=",".join(c for c in CONFIGS if c not in OPTIONAL),
                    help="comma-separated subset of " + ", ".join(CONFIGS) + " (default: all but "
                    + " and ".join(OPTIONAL) + "; trl_compile recompiles at every new batch shape: minutes a step)")
    ap.add_argument("--target", type=float, default=2.0, help="target ratio ours / TRL's best")
    ap.add_argument("--memory-target", type=float, default=0.5, help="target peak RSS ours / TRL's best")
    ap.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.warmup < 1:
        ap.error("--warmup: at least 1 (the first step allocates and compiles)")
    if opts.worker:
        print(RESULT + json.dumps(worker(opts.worker, opts)), flush=True)
        return
    names = [n.strip() for n in opts.configs.split(",") if n.strip()]
    unknown = set(names) - set(CONFIGS)
    if unknown or "ours" not in names:
        raise SystemExit(f"--configs: unknown {sorted(unknown)} or no 'ours' (choose from {', '.join(CONFIGS)})")

    import torch

    from assistant.hub import quiet_libraries
    from assistant.llm import cpu_has_bf16, resolve_precision

    quiet_libraries()
    t_start = time.perf_counter()
    precision = resolve_precision("auto", "cpu")
    f = flop_terms(opts)
    print(f"model {f['source']}: {f['n_params'] / 1e6:.1f}M parameters; precision {precision} (auto: this CPU "
          f"{'runs' if cpu_has_bf16() else 'does not run'} bf16 natively); {torch.get_num_threads()} threads; "
          f"load {load()} (/proc/loadavg) on {os.cpu_count()} CPUs")
    print(f"{opts.pairs} support train pairs (mean {f['mean_length']:.0f} tokens, {f['answer_share']:.0%} of them "
          f"answer), batch {opts.batch_size}, {opts.warmup} warm-up + {opts.steps} timed steps (plain: {opts.plain_steps}, in "
          f"{min(opts.plain_repeats, opts.repeats)} round(s)); "
          f"{opts.repeats} rounds over the configurations, each run in its own process, one after the other")
    peaks = [matmul_peak(precision)]
    runs: dict[str, list] = {n: [] for n in names}
    for round_ in range(opts.repeats):
        for name in names:
            if name == "plain" and round_ >= opts.plain_repeats:
                continue
            r = run_worker(name, opts)
            runs[name].append(r)
            print(f"  round {round_ + 1} {name:<17} {r['tokens_per_s']:>7.1f} real tokens/s  warm-up "
                  f"{r['warmup_s']} s, then {r['step_s']} s  "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB  {r['wall_s']:.0f} s in all, load at start {r['load']}",
                  flush=True)
    peaks.append(matmul_peak(precision))
    peak = max(peaks)
    results = {n: summarise(rs) for n, rs in runs.items()}
    per_token = lora_flops_per_token(f)
    six_n = 6 * f["n_params"]
    print(f"\nmatmul peak ({precision}, torch.matmul 1024x1024, before/after the trainings): "
          f"{peaks[0]:.1f} / {peaks[1]:.1f} GFLOP/s; MFU against {peak:.1f}")
    print(f"LoRA FLOPs per real token: {per_token / 1e6:.0f}M = 4 x {f['body_linear'] / 1e6:.1f}M decoder linear weights "
          f"+ 6 x {f['lora'] / 1e6:.2f}M LoRA weights + attention (mean causal context {f['mean_context']:.0f}) "
          f"+ 4 x {f['lm_head'] / 1e6:.1f}M LM head x {f['answer_share']:.1%} answer tokens = "
          f"{per_token / f['body_linear']:.2f} x the non-embedding parameters (the usual 6N: "
          f"{six_n / 1e6:.0f}M, MFU in brackets)")
    print(f"\n{'configuration':<17} {'tokens/s':>9} {'repeats':<22} {'s/step':>7} {'warm-up':>8} {'tok/step':>8} "
          f"{'padding':>8} "
          f"{'peak RSS':>9} {'MFU':>6} {'(6N)':>6} {'mean loss':>9}")
    for name, r in results.items():
        r["model_gflops"] = round(per_token * r["tokens_per_s"] / 1e9, 1)
        r["mfu"] = round(r["model_gflops"] / peak, 3)
        r["mfu_6n"] = round(six_n * r["tokens_per_s"] / 1e9 / peak, 3)
        print(f"{name:<17} {r['tokens_per_s']:>9.1f} {str(r['repeats_tokens_per_s']):<22} {r['s_per_step']:>7.2f} "
              f"{r['warmup_s']:>8.1f} "
              f"{r['real_tokens_per_step']:>8} {r['padding_share']:>8.0%} {r['peak_rss_mb']:>6.0f} MB "
              f"{r['mfu']:>6.1%} {r['mfu_6n']:>6.1%} {r['mean_loss']:>9.4f}")
    for name, r in results.items():
        print(f"  loss per step, {name}: {r['losses']}")
    ours = results["ours"]
    trl = {n: results[n] for n in TRL_CONFIGS if n in results}
    summary = {"benchmark": "finetune_speed", "figure": "LoRA training throughput (real tokens)", "unit": "tokens/s",
               "value": ours["tokens_per_s"], "baseline": None, "ratio": None, "target": opts.target, "met": None}
    if trl:
        best = max(trl.values(), key=lambda r: r["tokens_per_s"])
        ratio = ours["tokens_per_s"] / best["tokens_per_s"]
        mem_ratio = ours["peak_rss_mb"] / best["peak_rss_mb"]
        print(f"\nbaseline: {best['name']} (the fastest TRL configuration here)")
        print(f"speed: ours / {best['name']} {ratio:.2f}x (target {opts.target}x)")
        print(f"memory: peak RSS ours {ours['peak_rss_mb']:.0f} MB, {best['name']} {best['peak_rss_mb']:.0f} MB: "
              f"{mem_ratio:.2f} (target at most {opts.memory_target})")
        summary.update(baseline=best["tokens_per_s"], baseline_name=best["name"], ratio=round(ratio, 2),
                       met=ratio >= opts.target,
                       memory={"unit": "MB peak RSS", "value": ours["peak_rss_mb"], "baseline": best["peak_rss_mb"],
                               "ratio": round(mem_ratio, 2), "target": opts.memory_target,
                               "met": mem_ratio <= opts.memory_target})
    if "plain" in results:
        print(f"ours / plain Trainer (padded to {PLAIN_LENGTH}): "
              f"{ours['tokens_per_s'] / results['plain']['tokens_per_s']:.2f}x")
    total = time.perf_counter() - t_start
    print(f"load {load()} at the end; {total:.0f} s in all")
    summary.update(precision=precision, mfu=ours["mfu"], matmul_peak_gflops=round(peak, 1),
                   lora_flops_per_token=round(per_token), six_n_flops_per_token=six_n, steps=opts.steps,
                   pairs=opts.pairs, repeats=opts.repeats, load=load(), wall_s=round(total),
                   configs={n: {k: r[k] for k in ("tokens_per_s", "repeats_tokens_per_s", "warmup_s", "peak_rss_mb", "mfu",
                                                  "padding_share", "mean_loss", "loads")}
                            for n, r in results.items()})
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
