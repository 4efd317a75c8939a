"""The report's plots: matplotlib figures (Agg backend) as base64 PNG, embedded in report.html."""
from __future__ import annotations

import base64
import io

from .build import KINDS


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plots(r: dict) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    aps = r["approaches"]
    out = {}
    groups = ["overall", *KINDS]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    width = 0.8 / max(len(aps), 1)
    for i, ap in enumerate(aps):
        figs = [r["accuracy"][ap]["overall"]] + [r["accuracy"][ap]["by_kind"][k] for k in KINDS]
        vals = [f["value"] or 0 for f in figs]
        err = np.array([[max(0, (f["value"] or 0) - f["ci"][0]) if f.get("ci") else 0 for f in figs],
                        [max(0, f["ci"][1] - (f["value"] or 0)) if f.get("ci") else 0 for f in figs]])
        ax.bar(np.arange(len(groups)) + i * width, vals, width, yerr=err, capsize=3, label=ap)
    ax.set_xticks(np.arange(len(groups)) + width * (len(aps) - 1) / 2, groups)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (95% CI)")
    ax.legend(fontsize=8)
    out["accuracy"] = _png(fig)

    losses = {ap: ls for ap, ls in r["overfitting"]["loss"].items() if ls.get("train") or ls.get("val")}
    if losses:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for ap, ls in losses.items():
            if ls.get("train"):
                ax.plot(*zip(*ls["train"]), label=f"{ap} train", alpha=0.7)
            if ls.get("val"):
                ax.plot(*zip(*ls["val"]), marker="o", label=f"{ap} validation")
            if ls.get("stopped_step") is not None:
                ax.axvline(ls["stopped_step"], ls=":", color="grey")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        out["loss"] = _png(fig)

    bars = [(f"{ap}\n{cat}", e[k], k) for ap in aps for cat, e in (r["bias"]["bbq"].get(ap) or {}).items()
            for k in ("s_dis", "s_amb") if e.get(k) is not None]
    if bars:
        fig, ax = plt.subplots(figsize=(max(6, len(bars) * 0.5), 3.2))
        ax.bar(range(len(bars)), [b[1] for b in bars], color=["tab:blue" if b[2] == "s_dis" else "tab:orange" for b in bars])
        ax.set_xticks(range(len(bars)), [f"{b[0]}\n{b[2]}" for b in bars], fontsize=6, rotation=90)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("bias score (+1 stereotyped)")
        out["bias"] = _png(fig)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    lat = [r["cost"][ap]["latency"] for ap in aps]
    axes[0].bar(aps, [x["p50_s"] or 0 for x in lat], label="p50")
    axes[0].scatter(aps, [x["p95_s"] or 0 for x in lat], color="red", label="p95", zorder=3)
    axes[0].set_ylabel("seconds per answer")
    axes[0].legend(fontsize=8)
    axes[1].bar(aps, [r["cost"][ap]["update_s"] or 0 for ap in aps], color="tab:green")
    axes[1].set_ylabel("seconds to add one document")
    out["cost"] = _png(fig)
    return out
