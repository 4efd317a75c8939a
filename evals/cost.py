"""Cost figures: build time, size on disk, peak memory, answer latency, and the cost of an
update (adding one document), as measured by the pipeline into eval/build.json."""
from __future__ import annotations

import numpy as np


def latency(answers: list[dict], approach: str) -> dict:
    """p50 / p95 seconds per answer (the answer's share of its batch), over the test split."""
    lat = [r["latency_s"] for r in answers if r["approach"] == approach and r["split"] == "test"]
    if not lat:
        return {"p50_s": None, "p95_s": None, "n": 0}
    return {"p50_s": float(np.percentile(lat, 50)), "p95_s": float(np.percentile(lat, 95)), "n": len(lat)}


def cost_table(answers: list[dict], build: dict, approaches: list[str]) -> dict:
    out = {}
    for ap in approaches:
        b = (build.get("approaches") or {}).get(ap, {})
        out[ap] = {"build_s": b.get("build_s"), "size_mb": b.get("size_mb"), "peak_memory_mb": b.get("peak_memory_mb"),
                   "update_s": b.get("update_s"), "update_how": b.get("update_how"),
                   "eval_peak_rss_mb": b.get("eval_peak_rss_mb"), "latency": latency(answers, ap)}
    return out
