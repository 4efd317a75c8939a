"""Training attention by batch width: the model's SDPA against its eager attention, side by side.

One LoRA training step's work (forward at the answer positions + backward) on a batch of 8
random token rows of each width, with the embedded model, FinetuneConfig's adapter, and the
precision training would use here (llm.resolve_precision("auto")), for each attention
implementation in turn (transformers' set_attn_implementation). Prints the median seconds of
--repeats passes and the bytes autograd saves for backward (distinct storages, counted once per
width and implementation), which is what eager's extra memory is: it keeps every layer's
attention weights. This is what finetune.EAGER_ATTENTION_UP_TO is read from.

    .venv/bin/python benchmarks/attention_width.py [--widths 128 160 192 224 256 512] [--repeats 3] [--precision auto]

The last line is one JSON object: per width, SDPA's seconds over eager's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def step(model, ids, mask, keep, precision: str) -> None:
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext():
        out = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep)
    out.logits.float().logsumexp(-1).sum().backward()


def saved_mb(model, ids, mask, keep, precision: str) -> float:
    """MB autograd keeps for backward in one forward, frozen weights left out."""
    import torch

    frozen = {p.untyped_storage().data_ptr() for p in model.parameters() if not p.requires_grad}
    seen: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in frozen:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step(model, ids, mask, keep, precision)
    return sum(seen.values()) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[128, 160, 192, 224, 256, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precision", default="auto")
    args = ap.parse_args()

    import torch

    from assistant.finetune import FinetuneConfig, lora_model
    from assistant.hub import quiet_libraries
    from assistant.llm import load_llm, resolve_precision

    quiet_libraries()
    precision = resolve_precision(args.precision, "cpu")
    llm = load_llm(device="cpu", precision=precision)
    model = lora_model(llm, FinetuneConfig(), precision)
    print(f"{llm.source.name}, LoRA rank {FinetuneConfig().rank}, {precision}, {torch.get_num_threads()} threads, "
          f"batch 8, median of {args.repeats} passes, load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    gen = torch.Generator().manual_seed(0)
    results = {}
    for width in args.widths:
        ids = torch.randint(100, 20000, (8, width), generator=gen)
        mask = torch.ones_like(ids)
        mask[:4, -width // 4:] = 0  # right padding on half the rows, as the collator gives
        keep = torch.zeros_like(ids, dtype=torch.bool)
        keep[:, -32:] = True
        row = {}
        for impl in ("sdpa", "eager"):
            llm.model.set_attn_implementation(impl)
            seconds = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                step(model, ids, mask, keep, precision)
                seconds.append(time.perf_counter() - t0)
            model.zero_grad(set_to_none=True)
            row[impl] = {"s": round(statistics.median(seconds), 3),
                         "saved_mb": round(saved_mb(model, ids, mask, keep, precision), 1)}
            model.zero_grad(set_to_none=True)
        row["sdpa_over_eager"] = round(row["sdpa"]["s"] / row["eager"]["s"], 2)
        results[width] = row
        print(f"  width {width:4}: SDPA {row['sdpa']['s']:6.2f} s, saves {row['sdpa']['saved_mb']:7.1f} MB;  eager "
              f"{row['eager']['s']:6.2f} s, saves {row['eager']['saved_mb']:7.1f} MB;  SDPA / eager "
              f"{row['sdpa_over_eager']:.2f}", flush=True)
    llm.model.set_attn_implementation("sdpa")
    print(json.dumps({"benchmark": "attention_width", "figure": "seconds of one training step's work, SDPA / eager",
                      "precision": precision, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
