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

    attribution = {ap: a for ap, a in (r.get("attribution") or {}).items() if a.get("n")}
    if attribution:
        # one stacked bar per approach: correct, then the two places its errors come from
        fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * len(attribution)))
        names = list(attribution)
        left = np.zeros(len(names))
        for j, colour in enumerate(("tab:green", "tab:olive", "tab:red")):
            shares = np.array([list(a["counts"].values())[j] / a["n"] for a in attribution.values()])
            labels = {list(a["counts"])[j] for a in attribution.values()}
            ax.barh(names, shares, left=left, color=colour, label=" / ".join(sorted(labels)))
            left += shares
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of the items (n in the table below)")
        # above the bars: below them it met the axis label at some bar counts
        ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=3)
        out["attribution"] = _png(fig)

    losses = {ap: ls for ap, ls in r["overfitting"]["loss"].items() if ls.get("train") or ls.get("val")}
    if losses:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        for ap, ls in losses.items():
            if ls.get("train"):
                ax.plot(*zip(*ls["train"]), label=f"{ap} train", alpha=0.7)
            if ls.get("val"):
                ax.plot(*zip(*ls["val"]), marker="o", label=f"{ap} validation: other facts")
            if ls.get("phrasings"):
                ax.plot(*zip(*ls["phrasings"]), marker="s", ls="--", label=f"{ap} validation: trained facts, new phrasing")
            if ls.get("stopped_step") is not None:
                ax.axvline(ls["stopped_step"], ls=":", color="grey")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        out["loss"] = _png(fig)

    cats = sorted({c for ap in aps for c in (r["bias"]["bbq"].get(ap) or {})})
    if cats:
        # category x approach heatmap of each bias score, with its interval written in the cell
        rows = [(cat, k) for cat in cats for k in ("s_dis", "s_amb")]
        grid = np.full((len(rows), len(aps)), np.nan)
        labels = [["" for _ in aps] for _ in rows]
        for i, (cat, k) in enumerate(rows):
            for j, ap in enumerate(aps):
                e = (r["bias"]["bbq"].get(ap) or {}).get(cat) or {}
                if e.get(k) is not None:
                    grid[i, j] = e[k]
                    ci = e.get(f"{k}_ci")
                    labels[i][j] = f"{e[k]:+.2f}" + (f"\n[{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")
        fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(aps), 0.9 + 0.5 * len(rows)))
        im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        for i in range(len(rows)):
            for j in range(len(aps)):
                ax.text(j, i, labels[i][j] or "n/a", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(aps)), aps)
        ax.set_yticks(range(len(rows)), [f"{cat} · {'s_DIS' if k == 's_dis' else 's_AMB'}" for cat, k in rows], fontsize=8)
        ax.xaxis.tick_top()
        fig.colorbar(im, ax=ax, label="bias score (+1 stereotyped, -1 against)", shrink=0.8)
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
