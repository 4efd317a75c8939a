"""Overfitting signals: train vs test gap, the validation-loss curve, paraphrase vs verbatim,
and retention of general knowledge (forgetting).

- gap: accuracy on a stated sample of train questions (asked verbatim) minus accuracy on the
  answerable test items; a fine-tuned model that memorised its data shows a large gap.
- loss: the builder's history (train and validation loss by step), its minimum validation loss
  and where early stopping stopped.
- paraphrase vs verbatim: on the trained facts of the test's paraphrase items, the train
  question itself against the test paraphrase ("knowledge must be repeated in numerous ways"),
  and their paired difference fact by fact: the generalisation gap the rule reads. The
  train-test gap above is no overfitting signal for an adapter: the test holds unseen facts
  no training could teach, so an adapter that learned its facts well shows a large one.
- retention: evals/data/retention.jsonl, simple general-knowledge questions scored by option
  likelihood, before (base) and after (every other approach); forgetting = base - approach,
  with a paired test (LoRA learns less and forgets less: measure it).
"""
from __future__ import annotations

from .stats import mean_ci, paired_difference


def _acc(records: list[dict]) -> list[float]:
    return [r["scores"]["accuracy"] for r in records]


def train_test_gap(answers: list[dict], approach: str) -> dict:
    mine = [r for r in answers if r["approach"] == approach]
    train = mean_ci(_acc([r for r in mine if r["split"] == "train"]))
    test = mean_ci(_acc([r for r in mine if r["split"] == "test" and r["kind"] != "unanswerable"]))
    gap = None if train["value"] is None or test["value"] is None else train["value"] - test["value"]
    return {"train": train, "test": test, "gap": gap}


def paraphrase_vs_verbatim(answers: list[dict], approach: str) -> dict:
    mine = [r for r in answers if r["approach"] == approach]
    para = [r for r in mine if r["split"] == "test" and r["kind"] == "paraphrase"]
    facts = {r["fact_id"] for r in para if r.get("fact_id")}
    verbatim = [r for r in mine if r["split"] == "train" and r.get("fact_id") in facts]
    # one pair per fact asked both ways: its trained question(s) against its paraphrase(s)
    by_fact = {f: ([r["scores"]["accuracy"] for r in verbatim if r["fact_id"] == f],
                   [r["scores"]["accuracy"] for r in para if r.get("fact_id") == f]) for f in sorted(facts)}
    pairs = [(sum(v) / len(v), sum(q) / len(q)) for v, q in by_fact.values() if v and q]
    return {"verbatim": mean_ci(_acc(verbatim)), "paraphrase": mean_ci(_acc(para)),
            "gap": paired_difference([v for v, _ in pairs], [q for _, q in pairs])}


def _series(history: dict, names: tuple[str, ...]) -> list[tuple[float, float]]:
    """[(step, loss)] from a history, tolerant of the shapes a builder may write:
    {"val": [{"step", "loss"}]}, {"val_loss": [...]}, or HF's log_history."""
    for name in names:
        v = history.get(name)
        if isinstance(v, list) and v:
            pts = []
            for p in v:
                if isinstance(p, dict):
                    loss = next((p[k] for k in ("loss", "val_loss", "eval_loss", "train_loss", "value") if k in p), None)
                    step = p.get("step", p.get("global_step"))
                    if loss is not None and step is not None:
                        pts.append((float(step), float(loss)))
                elif isinstance(p, (list, tuple)) and len(p) == 2:
                    pts.append((float(p[0]), float(p[1])))
            if pts:
                return pts
    return []


def loss_summary(history: dict | None) -> dict:
    if not history:
        return {"status": "not run", "reason": "no loss history (the approach was not fine-tuned in this run)"}
    rows = history.get("history")
    if isinstance(rows, list):  # the finetune builder's shape: rows with "loss" or "val_loss"
        train = [(float(r["step"]), float(r["loss"])) for r in rows if "loss" in r]
        val = [(float(r["step"]), float(r["val_loss"])) for r in rows if "val_loss" in r]
        phrasings = [(float(r["step"]), float(r["phrasings_loss"])) for r in rows if "phrasings_loss" in r]
    else:
        phrasings = []
        train = _series(history, ("train", "train_loss", "train_losses", "loss"))
        val = _series(history, ("val", "val_loss", "eval", "eval_loss", "val_losses"))
    if not train and isinstance(history.get("log_history"), list):
        lh = history["log_history"]
        train = [(p["step"], p["loss"]) for p in lh if "loss" in p and "step" in p]
        val = [(p["step"], p["eval_loss"]) for p in lh if "eval_loss" in p and "step" in p]
    out = {"train": train, "val": val, "phrasings": phrasings, "stop_on": history.get("stop_on", "val"),
           "best_step": history.get("best_step"),
           "stopped_step": history.get("stopped_step"), "max_steps": history.get("max_steps"),
           "early_stopped": history.get("early_stopped")}
    if val:
        step, loss = min(val, key=lambda p: p[1])
        out["val_min"] = {"step": step, "loss": loss}
        out["val_last"] = {"step": val[-1][0], "loss": val[-1][1]}
        # rising validation loss after its minimum while training loss falls = overfitting
        out["val_rise_after_min"] = val[-1][1] - loss
    if phrasings:  # held-out phrasings of the trained facts: falls while the adapter learns the facts
        step, loss = min(phrasings, key=lambda p: p[1])
        out["phrasings_min"] = {"step": step, "loss": loss}
    return out


def retention(options: list[dict], approaches: list[str]) -> dict:
    """Retention accuracy per approach, and forgetting against base (paired, same questions)."""
    ret = {ap: sorted((r for r in options if r["set"] == "retention" and r["approach"] == ap), key=lambda r: r["id"])
           for ap in approaches}
    out = {ap: {"accuracy": mean_ci([r["correct"] for r in rs])} for ap, rs in ret.items()}
    if "base" in ret:
        base = {r["id"]: r["correct"] for r in ret["base"]}
        for ap, rs in ret.items():
            if ap == "base" or not rs:
                continue
            ids = [r["id"] for r in rs if r["id"] in base]
            mine = {r["id"]: r["correct"] for r in rs}
            out[ap]["forgetting"] = paired_difference([base[i] for i in ids], [mine[i] for i in ids])
    return out
