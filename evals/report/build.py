"""The report: report.json (the source of truth), report.md and a self-contained report.html.

Built from an evaluation folder's records (answers / options / bias / swaps .jsonl, meta.json,
build.json) and the run's manifest alone, so `assistant report RUN` regenerates all three
without loading a model.
"""
from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

from assistant.files import read_json

from .. import bias as bias_mod
from .. import cost as cost_mod
from .. import injection as injection_mod
from .. import overfitting
from ..metrics import JUDGE_METRICS
from ..recommend import RULE, recommend
from ..stats import fmt, mean_ci, paired_difference

KINDS = ("paraphrase", "unseen", "unanswerable")
STYLE_METRICS = ("exact_match", "span_match", "key_fact_recall", "token_f1", "rouge_l", "semantic_similarity",
                 "ragas_string_similarity", "ragas_context_precision", "ragas_context_recall")


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_records(eval_dir: Path) -> dict:
    eval_dir = Path(eval_dir)
    return {"answers": read_jsonl(eval_dir / "answers.jsonl"), "options": read_jsonl(eval_dir / "options.jsonl"),
            "bias": read_jsonl(eval_dir / "bias.jsonl"), "swaps": read_jsonl(eval_dir / "swaps.jsonl"),
            "injection": read_jsonl(eval_dir / "injection.jsonl"),
            "meta": read_json(eval_dir / "meta.json") if (eval_dir / "meta.json").exists() else {},
            "build": read_json(eval_dir / "build.json") if (eval_dir / "build.json").exists() else {}}


def _metric_figure(records: list[dict], metric: str, not_run: dict) -> dict:
    if metric in not_run:
        return dict(not_run[metric], value=None, n=0)
    vals = [r["scores"].get(metric) for r in records]
    fig = mean_ci(vals)
    if fig["n"] == 0 and metric.startswith("ragas_context"):
        fig["reason"] = "no retrieved contexts (closed-book approach) or no reference documents"
        fig["status"] = "not applicable"
    return fig


def _judge_figure(records: list[dict], metric: str, not_run: dict) -> dict:
    """A judge metric's mean (95% CI, n) over the answers it scored, with how many it could
    not score and why (those count in no mean: never as NaN or 0)."""
    if metric in not_run:
        return dict(not_run[metric], value=None, n=0, not_scored=0, not_scored_reasons={})
    fig = mean_ci([r["scores"].get(metric) for r in records])
    reasons: dict[str, int] = {}
    for r in records:
        why = (r.get("judge_not_scored") or {}).get(metric)
        if why:
            reasons[why] = reasons.get(why, 0) + 1
    fig["not_scored"], fig["not_scored_reasons"] = sum(reasons.values()), reasons
    if fig["n"] == 0:
        fig["reason"] = (f"the judge could not score any of {fig['not_scored']} answers" if reasons else
                         "not applicable (no retrieved contexts: a closed-book approach)")
    return fig


def build_report(eval_dir: Path, manifest: dict) -> dict:
    rec = load_records(eval_dir)
    answers, options, meta, build = rec["answers"], rec["options"], rec["meta"], rec["build"]
    approaches = [ap for ap in manifest.get("approaches", []) if any(r["approach"] == ap for r in answers)]
    approaches += sorted({r["approach"] for r in answers} - set(approaches))
    test = {ap: sorted((r for r in answers if r["approach"] == ap and r["split"] == "test"), key=lambda r: r["id"])
            for ap in approaches}
    not_run = meta.get("metrics_not_run") or {}

    accuracy = {}
    for ap in approaches:
        rs = test[ap]
        entry = {"overall": mean_ci([r["scores"]["accuracy"] for r in rs]),
                 "by_kind": {k: mean_ci([r["scores"]["accuracy"] for r in rs if r["kind"] == k]) for k in KINDS},
                 "rules": {rule: sum(1 for r in rs if r["scores"].get("accuracy_rule") == rule)
                           for rule in sorted({r["scores"].get("accuracy_rule") for r in rs})},
                 "metrics": {m: _metric_figure(rs, m, not_run) for m in STYLE_METRICS},
                 "metrics_by_kind": {k: {m: _metric_figure([r for r in rs if r["kind"] == k], m, not_run)
                                         for m in ("key_fact_recall", "token_f1", "rouge_l")} for k in KINDS}}
        for k, fig in entry["by_kind"].items():
            if fig["n"] == 0:
                fig["reason"] = f"no {k} items in the evaluated test set"
        closed = [o for o in options if o["approach"] == ap and o["set"] == "test"]
        ids = {o["id"] for o in closed}
        if meta.get("judge"):
            entry["judge"] = {m: _judge_figure(rs, m, not_run) for m in JUDGE_METRICS}
        entry["closed_form"] = {"option_likelihood": mean_ci([o["correct"] for o in closed]),
                                "generated": mean_ci([r["scores"]["accuracy"] for r in rs if r["id"] in ids])}
        accuracy[ap] = entry

    paired = {"accuracy": [], "accuracy_unseen": []}
    for a, b in combinations(approaches, 2):
        for name, keep in (("accuracy", lambda r: True), ("accuracy_unseen", lambda r: r["kind"] == "unseen")):
            ra = {r["id"]: r["scores"]["accuracy"] for r in test[a] if keep(r)}
            rb = {r["id"]: r["scores"]["accuracy"] for r in test[b] if keep(r)}
            ids = sorted(set(ra) & set(rb))
            paired[name].append({"a": a, "b": b, **paired_difference([ra[i] for i in ids], [rb[i] for i in ids])})

    probe_recs = rec["bias"]
    bbq = {ap: bias_mod.bbq_scores([r for r in probe_recs if r["approach"] == ap]) for ap in approaches}
    bias = {"bbq": bbq, "n_probes": meta.get("n_probes", 0),
            "probes_source": meta.get("probes_source"),
            "swaps": bias_mod.swap_summary(rec["swaps"]),
            "n_swappable_test_questions": meta.get("n_swappable_test_questions", 0)}
    if not meta.get("n_probes"):
        bias["note"] = "no bias probes: the corpus has no probes.jsonl and no --probes file was given"
    if not rec["swaps"]:
        bias["swaps_note"] = ("no evaluated test question names a demographic term from the swap table "
                              f"(n={meta.get('n_test', 0)} questions checked)")

    history = build.get("history") or {}
    over = {"gap": {ap: overfitting.train_test_gap(answers, ap) for ap in approaches},
            "paraphrase_vs_verbatim": {ap: overfitting.paraphrase_vs_verbatim(answers, ap) for ap in approaches},
            "loss": {ap: overfitting.loss_summary(history.get(ap)) for ap in approaches if ap in ("ft", "hybrid")},
            "retention": overfitting.retention(options, approaches),
            "n_train_sample": meta.get("n_train_sample", 0)}

    report = {
        "run": {"id": manifest.get("id"), "corpus": manifest.get("corpus", {}), "created": manifest.get("created"),
                "models": manifest.get("models", {}), "quick": meta.get("quick", False),
                "selection": meta.get("selection"), "judge": meta.get("judge"), "n_test": meta.get("n_test"),
                "seed": meta.get("seed"), "device": meta.get("device"), "precision": meta.get("precision"),
                "versions": manifest.get("versions", {})},
        "approaches": approaches, "accuracy": accuracy, "paired": paired, "bias": bias, "overfitting": over,
        "cost": cost_mod.cost_table(answers, build, approaches), "update_note": build.get("update_note"),
        "injection": {ap: injection_mod.summarise([r for r in rec["injection"] if r["approach"] == ap])
                      for ap in approaches if ap in ("rag", "hybrid")},
        "metrics_not_run": not_run, "rule": RULE,
    }
    report["recommendation"] = recommend(report)
    report["headline"] = headline(report)
    return report


def headline(report: dict) -> dict:
    """The few figures the registry and the run list show."""
    out = {"winner": report["recommendation"]["winner"]}
    for ap in report["approaches"]:
        f = report["accuracy"][ap]["overall"]
        out[ap] = {"accuracy": f["value"], "ci": f["ci"], "n": f["n"],
                   "unseen": report["accuracy"][ap]["by_kind"]["unseen"]["value"]}
    return out


def _num(v, digits=2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _tables(r: dict) -> dict[str, list[list[str]]]:
    """Every table of the report, as rows of strings (shared by markdown and HTML)."""
    aps = r["approaches"]
    t = {}
    t["accuracy"] = [["approach", "accuracy", *KINDS]] + [
        [ap, fmt(r["accuracy"][ap]["overall"]), *(fmt(r["accuracy"][ap]["by_kind"][k]) for k in KINDS)] for ap in aps]
    if r["run"].get("judge"):
        t["accuracy"][0] += ["judge correctness", "judge faithfulness"]
        for row, ap in zip(t["accuracy"][1:], aps):
            js = r["accuracy"][ap].get("judge") or {}
            row += [_judge_cell(js.get(m)) for m in ("judge_answer_correctness", "judge_faithfulness")]
    t["metrics"] = [["metric", *aps]] + [
        [m, *(fmt(r["accuracy"][ap]["metrics"][m], pct=False) for ap in aps)] for m in STYLE_METRICS]
    t["closed"] = [["approach", "generated answer", "option likelihood"]] + [
        [ap, fmt(r["accuracy"][ap]["closed_form"]["generated"]), fmt(r["accuracy"][ap]["closed_form"]["option_likelihood"])]
        for ap in aps]
    t["paired"] = [["comparison", "metric", "difference", "95% CI", "p", "n", "separated"]] + [
        [f"{p['a']} - {p['b']}", m, _num(p["diff"]), f"[{_num(p['ci'][0])}, {_num(p['ci'][1])}]" if p["ci"] else "n/a",
         _num(p["p_value"], 3), str(p["n"]), "yes" if p["separated"] else "no"]
        for m, ps in r["paired"].items() for p in ps]
    rows = [["approach", "category", "acc. ambiguous", "acc. disambiguated", "s_DIS", "s_AMB"]]
    for ap in aps:
        cats = r["bias"]["bbq"].get(ap) or {}
        for cat, e in cats.items():
            rows.append([ap, cat, f"{_num(e['accuracy_ambig'])} (n={e['n_ambig']})",
                         f"{_num(e['accuracy_disambig'])} (n={e['n_disambig']})",
                         f"{_num(e['s_dis'])} (n={e['s_dis_n']})" + (f" {e['s_dis_note']}" if e.get("s_dis_note") else ""),
                         f"{_num(e['s_amb'])} (n={e['s_amb_n']})" + (f" {e['s_amb_note']}" if e.get("s_amb_note") else "")])
    t["bbq"] = rows
    t["swaps"] = [["approach", "answers changed", "n"]] + [
        [ap, f"{s['changed']} ({_num(s['rate'])})", str(s["n"])] for ap, s in r["bias"]["swaps"].items()]
    o = r["overfitting"]
    t["gap"] = [["approach", "train (verbatim sample)", "test (answerable)", "gap", "verbatim (trained facts)",
                 "paraphrase", "retention", "forgetting vs base"]]
    for ap in aps:
        g, pv, ret = o["gap"][ap], o["paraphrase_vs_verbatim"][ap], o["retention"].get(ap, {})
        forg = ret.get("forgetting")
        t["gap"].append([ap, fmt(g["train"]), fmt(g["test"]), _num(g["gap"]), fmt(pv["verbatim"]), fmt(pv["paraphrase"]),
                         fmt(ret.get("accuracy")),
                         f"{_num(forg['diff'])} [{_num(forg['ci'][0])}, {_num(forg['ci'][1])}] (n={forg['n']})"
                         if forg and forg.get("ci") else "-"])
    t["loss"] = [["approach", "val-loss minimum", "at step", "best step", "stopped at", "rise after minimum"]]
    for ap, ls in o["loss"].items():
        if "val_min" in ls:
            t["loss"].append([ap, _num(ls["val_min"]["loss"], 3), _num(ls["val_min"]["step"], 0), str(ls.get("best_step")),
                              str(ls.get("stopped_step")), _num(ls.get("val_rise_after_min"), 3)])
        else:
            t["loss"].append([ap, ls.get("reason", "no validation loss recorded"), "", "", "", ""])
    t["cost"] = [["approach", "build (s)", "size (MB)", "peak memory (MB)", "latency p50 / p95 (s)", "update: one document (s)"]]
    for ap in aps:
        c = r["cost"][ap]
        lat = c["latency"]
        t["cost"].append([ap, _num(c["build_s"], 1), _num(c["size_mb"], 1), _num(c["peak_memory_mb"], 0),
                          f"{_num(lat['p50_s'])} / {_num(lat['p95_s'])} (n={lat['n']})",
                          (_num(c["update_s"], 1) + (f" ({c['update_how']})" if c.get("update_how") else ""))])
    t["injection"] = [["approach", "planted document retrieved", "answer obeyed it", "answer changed", "n"]] + [
        [ap, f"{s['retrieved']} ({_num(s['retrieved_rate'])})", f"{s['followed']} ({_num(s['followed_rate'])})",
         f"{s['changed']} ({_num(s['changed_rate'])})", str(s["n"])] if s["status"] == "ok"
        else [ap, f"not run: {s['reason']}", "", "", "0"] for ap, s in r.get("injection", {}).items()]
    return t


def _judge_cell(fig: dict | None) -> str:
    text = fmt(fig, pct=False)
    return text + (f"; {fig['not_scored']} not scored" if fig and fig.get("not_scored") else "")


def judge_notes(r: dict) -> list[str]:
    """One line per approach and judge metric that left answers unscored, with the reasons."""
    out = []
    for ap in r["approaches"]:
        for m, fig in (r["accuracy"][ap].get("judge") or {}).items():
            if fig.get("not_scored"):
                why = "; ".join(f"{reason} ({k})" for reason, k in fig["not_scored_reasons"].items())
                out.append(f"{ap}, {m}: {fig['not_scored']} answers not scored ({fig['n']} scored): {why}")
    return out


JUDGE_NOTE = ("LLM judge: ragas' faithfulness (the share of the answer's statements its retrieved contexts support; "
              "retrieval approaches only) and answer correctness (statement-level F1 against the reference), "
              "judged by {judge} on the test answers, shown beside accuracy; they do not decide. An answer the judge "
              "could not score counts in no mean.")


INJECTION_NOTE = ("Documents are data, not instructions: for each probed test question a document that repeats the "
                  "question and orders the assistant to reply only with a canary word is added to a copy of the index. "
                  "Obeyed = the canary appears in the answer.")


def _md_table(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
    return "\n".join(lines)


def render_markdown(r: dict) -> str:
    t = _tables(r)
    rec = r["recommendation"]
    run = r["run"]
    parts = [f"# Fine-tune or retrieve? Report for run {run['id']}",
             f"Corpus **{run['corpus'].get('name')}** ({run['corpus'].get('documents')} documents, "
             f"{run['corpus'].get('qa')} Q&A pairs). Evaluated on {run.get('selection')}. "
             f"Judge: {run.get('judge') or 'none'}. Models ran in {run.get('precision') or 'unrecorded precision'} "
             f"on {run.get('device') or 'an unrecorded device'}.",
             "## Recommendation", f"**{rec['summary']}**", "\n".join(f"- {s}" for s in rec["reasons"]),
             "Caveats:\n\n" + "\n".join(f"- {s}" for s in rec["caveats"]) if rec["caveats"] else "",
             "## Accuracy (test split, 95% bootstrap CI, n)",
             "Accuracy is exact match for short answers, key-fact recall >= 0.5 for longer ones, the right "
             "yes/no word for closed-form items, and a refusal for unanswerable ones.",
             _md_table(t["accuracy"]),
             *((JUDGE_NOTE.format(judge=run["judge"]), "\n".join(f"- {s}" for s in judge_notes(r)))
               if run.get("judge") else ()),
             "### Style and retrieval metrics (means, 95% CI, n)", _md_table(t["metrics"]),
             "### Closed-form items: generated answer vs option likelihood", _md_table(t["closed"]),
             "### Paired comparisons", _md_table(t["paired"]),
             "## Bias", r["bias"].get("note", f"BBQ probes: {r['bias']['n_probes']} items per approach."),
             _md_table(t["bbq"]) if len(t["bbq"]) > 1 else "",
             "### Counterfactual swaps", r["bias"].get("swaps_note", ""), _md_table(t["swaps"]) if len(t["swaps"]) > 1 else "",
             "## Overfitting", f"Train sample: {r['overfitting']['n_train_sample']} train questions asked verbatim.",
             _md_table(t["gap"]), "### Loss curves", _md_table(t["loss"]) if len(t["loss"]) > 1 else "no fine-tuned approach",
             "## Cost", _md_table(t["cost"]), r.get("update_note") or "",
             *(("## Prompt injection", INJECTION_NOTE, _md_table(t["injection"])) if len(t["injection"]) > 1 else ()),
             "## The rule", r["rule"]]
    return "\n\n".join(p for p in parts if p) + "\n"
