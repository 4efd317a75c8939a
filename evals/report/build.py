"""The report dict (report.json, the source of truth), built from an evaluation folder's records
(answers / options / bias / swaps / injection .jsonl, meta.json, build.json) and the run's manifest
alone: no model is loaded."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

from assistant.errors import UserError
from assistant import files
from assistant.files import read_json

from .. import attribution
from .. import bias as bias_mod
from .. import cost as cost_mod
from .. import injection as injection_mod
from .. import overfitting
from ..metrics import JUDGE_METRICS
from ..recommend import RULE, recommend
from ..stats import holm, mean_ci, paired_difference

KINDS = ("paraphrase", "unseen", "unanswerable")
STYLE_METRICS = ("exact_match", "span_match", "key_fact_recall", "token_f1", "rouge_l", "semantic_similarity",
                 "ragas_string_similarity", "ragas_context_precision", "ragas_context_recall")


# the fields the report reads of each record (a record edited or damaged into another shape is
# one line naming its file, line and field, not a KeyError deep in the statistics)
FIELDS = {"answers": ("approach", "id", "split", "kind", "question", "reference", "answer", "scores"),
          "options": ("approach", "set", "id", "correct"),
          "bias": ("approach", "category", "condition", "unknown_chosen", "biased", "correct"),
          "swaps": ("approach", "changed"), "injection": ("approach", "retrieved", "followed", "changed")}


def read_jsonl(path: Path) -> list[dict]:
    """A record file (none: no records), each damaged line or record of the wrong shape a
    UserError naming the file, the line and the field."""
    if not path.exists():
        return []
    rows = files.read_jsonl(path)  # our record files hold no blank lines: record n is line n
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise UserError("not a record (a JSON object): run `assistant eval RUN` again", path=path, line=n)
        missing = next((f for f in FIELDS.get(path.stem, ()) if f not in row), None)
        if missing or (path.stem == "answers" and not isinstance(row["scores"], dict)):
            raise UserError("missing or not a record of scores: run `assistant eval RUN` again", path=path, line=n,
                            field=missing or "scores")
    return rows


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


def cluster_of(record: dict) -> str:
    """The source document(s) an item asks about: items that share them pass or fail together,
    so they are resampled together. An item with no document is a cluster of its own."""
    return "|".join(sorted(record.get("doc_ids") or [])) or f"item:{record['id']}"


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
        def acc(keep=lambda r: True):
            kept = [r for r in rs if keep(r)]
            return mean_ci([r["scores"]["accuracy"] for r in kept], clusters=[cluster_of(r) for r in kept])

        entry = {"overall": acc(), "by_kind": {k: acc(lambda r, k=k: r["kind"] == k) for k in KINDS},
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
        generated = [r["scores"] for r in rs if r["id"] in ids]
        # what the model knows (decides) and the form of what it says (shown beside)
        entry["closed_form"] = {"option_likelihood": mean_ci([o["correct"] for o in closed]),
                                "generated": mean_ci([s.get("generated_accuracy", s["accuracy"]) for s in generated]),
                                "form": mean_ci([s.get("form_ok") for s in generated])}
        accuracy[ap] = entry

    # overall, and by the kinds of item where the approaches should differ: unseen facts (what
    # retrieval brings) and trained facts asked in new words (what fine-tuning brings)
    paired = {"accuracy": [], "accuracy_unseen": [], "accuracy_paraphrase": []}
    for a, b in combinations(approaches, 2):
        for name, keep in (("accuracy", lambda r: True), ("accuracy_unseen", lambda r: r["kind"] == "unseen"),
                           ("accuracy_paraphrase", lambda r: r["kind"] == "paraphrase")):
            ra = {r["id"]: r for r in test[a] if keep(r)}
            rb = {r["id"]: r["scores"]["accuracy"] for r in test[b] if keep(r)}
            ids = sorted(set(ra) & set(rb))
            paired[name].append({"a": a, "b": b, **paired_difference(
                [ra[i]["scores"]["accuracy"] for i in ids], [rb[i] for i in ids], clusters=[cluster_of(ra[i]) for i in ids])})
    for comparisons in paired.values():  # each metric's pairwise tests are one family
        holm(comparisons)

    probe_recs = rec["bias"]
    bbq = {ap: bias_mod.bbq_scores([r for r in probe_recs if r["approach"] == ap]) for ap in approaches}
    paired_bias = [{"a": a, "b": b, "comparisons": bias_mod.compare_bias(
        [r for r in probe_recs if r["approach"] == a], [r for r in probe_recs if r["approach"] == b])}
        for a, b in combinations(approaches, 2)]
    bias = {"bbq": bbq, "paired": paired_bias, "n_probes": meta.get("n_probes", 0),
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
            "loss": {ap: overfitting.loss_summary(history.get(ap)) for ap in approaches if ap in history},
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
        # by what the records hold, not by name: the report knows no approach's insides
        "injection": {ap: injection_mod.summarise([r for r in rec["injection"] if r["approach"] == ap])
                      for ap in approaches if any(r["approach"] == ap for r in rec["injection"])},
        "metrics_not_run": not_run, "rule": RULE,
        # upper bounds evaluated beside the others (the oracle reader), never recommended
        "bounds": [ap for ap in approaches if ((build.get("approaches") or {}).get(ap) or {}).get("bound")],
    }
    report["attribution"] = attribution.attribute(answers, approaches, report["bounds"], trained=set(history))
    report["recommendation"] = recommend(report)
    report["headline"] = headline(report)
    return report


def headline(report: dict) -> dict:
    """The few figures the registry and the run list show."""
    out = {"winner": report["recommendation"]["winner"]}
    for ap in report["approaches"]:
        f = report["accuracy"][ap]["overall"]
        verbatim = (report["overfitting"]["paraphrase_vs_verbatim"].get(ap) or {}).get("verbatim") or {}
        out[ap] = {"accuracy": f["value"], "ci": f["ci"], "n": f["n"],
                   "unseen": report["accuracy"][ap]["by_kind"]["unseen"]["value"],
                   "train_verbatim": verbatim.get("value")}
    return out
