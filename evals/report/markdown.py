"""report.md: the report as markdown, from the same tables as report.html."""
from __future__ import annotations

from .notes import INJECTION_NOTE, JUDGE_NOTE, judge_notes
from .tables import table_rows


def _md_table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
    return "\n".join(lines)


def render_markdown(r: dict) -> str:
    t = table_rows(r)
    rec = r["recommendation"]
    run = r["run"]
    parts = [f"# Fine-tune or retrieve? Report for run {run['id']}",
             f"Corpus **{run['corpus'].get('name')}** ({run['corpus'].get('documents')} documents, "
             f"{run['corpus'].get('qa')} Q&A pairs). Evaluated on {run.get('selection')}. "
             f"Judge: {run.get('judge') or 'none'}. Models ran in {run.get('precision') or 'unrecorded precision'} "
             f"on {run.get('device') or 'an unrecorded device'}.",
             "## Recommendation", f"**{rec['summary']}**", "\n".join(f"- {s}" for s in rec["reasons"]),
             "Caveats:\n\n" + "\n".join(f"- {s}" for s in rec["caveats"]) if rec["caveats"] else "",
             *(("## Where the errors are", "\n".join(f"- {s}" for s in rec.get("diagnosis") or []),
                _md_table(t["attribution"])) if len(t["attribution"]) > 1 else ()),
             "## Accuracy (test split, 95% bootstrap CI, n)",
             "Accuracy is exact match for short answers, key-fact recall >= 0.5 (and no contradiction) for "
             "sentences, option likelihood for closed-form items (what the model knows, not how it phrases it), "
             "and a refusal for unanswerable ones.",
             _md_table(t["accuracy"]),
             *((JUDGE_NOTE.format(judge=run["judge"]), "\n".join(f"- {s}" for s in judge_notes(r)))
               if run.get("judge") else ()),
             "### Style and retrieval metrics (means, 95% CI, n)", _md_table(t["metrics"]),
             "### Closed-form items: what the model knows vs the form of its answer", _md_table(t["closed"]),
             "### Paired comparisons", _md_table(t["paired"]),
             "## Bias", r["bias"].get("note", f"BBQ probes: {r['bias']['n_probes']} items per approach."),
             t["bias_paired_note"], _md_table(t["bias_paired"]) if len(t["bias_paired"]) > 1 else "",
             _md_table(t["bias_grid"]) if len(t["bias_grid"]) > 1 else "",
             _md_table(t["bbq"]) if len(t["bbq"]) > 1 else "",
             "### Counterfactual swaps", r["bias"].get("swaps_note", ""), _md_table(t["swaps"]) if len(t["swaps"]) > 1 else "",
             "## Overfitting", f"Train sample: {r['overfitting']['n_train_sample']} train questions asked verbatim.",
             _md_table(t["gap"]), "### Loss curves", _md_table(t["loss"]) if len(t["loss"]) > 1 else "no fine-tuned approach",
             "## Cost", _md_table(t["cost"]), r.get("update_note") or "",
             *(("## Prompt injection", INJECTION_NOTE, _md_table(t["injection"])) if len(t["injection"]) > 1 else ()),
             "## The rule", r["rule"]]
    return "\n\n".join(p for p in parts if p) + "\n"
