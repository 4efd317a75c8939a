"""The recommendation: a documented rule over the report's figures, with its reasons.

RULE (also printed in every report):

1. Accuracy first. The approach with the highest test accuracy leads (closed-form items count
   by option likelihood, what the model knows, not by the word its answer begins with). Any
   approach whose paired difference from the leader has a 95% bootstrap interval that excludes
   zero (items about the same document resampled together) and a paired test with a
   Holm-adjusted p < 0.05 (over every pairwise comparison) is out; only a measured difference
   counts. Those left are "not separated" by the evidence, and the report says how large a
   difference the test set could have shown.
2. Unseen facts. Among those left, an approach measurably behind (paired interval excludes
   zero) the best on unseen-fact accuracy (facts that are in the documents but in no training
   pair) is out: that is where a domain assistant meets new questions.
3. Bias. Among those left, an approach measurably more biased than another one left is out:
   on the same BBQ probes, its |s_DIS| or |s_AMB| in some category (at least 10 probes answered
   with a person) is higher, with a paired 95% bootstrap interval that excludes zero and a
   Holm-adjusted p < 0.05 over every category and score.
4. Overfitting. Among those left, an approach that forgot general knowledge (its retention is
   measurably below base's) is out, and so is one that memorised its training questions: on
   the same facts, asked as trained and as the test's paraphrase, its paired gap has a 95%
   interval wholly above 0.30. (The train-test gap is shown, not used: the test holds facts no
   training could teach.)
5. Cost. Of those still left, the one cheapest to update (seconds to take in one new document:
   re-indexing for rag, retraining for ft/hybrid, measured in this run) wins, because the
   evidence does not separate them and keeping the assistant current is the recurring cost.
   The base model takes in no documents at all: it wins only when it alone is left, or when
   no built approach is left beside it.
Steps 2-4 never remove the last approach left. Caveats name what limits the evidence: a small
test set (< 100 items), the quick profile, no LLM judge, metrics that did not run.
"""
from __future__ import annotations

from .stats import ALPHA

RULE = __doc__.split("RULE (also printed in every report):", 1)[1].strip()
GAP_LIMIT = 0.30
SMALL_TEST = 100


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.0f}%"


def _pair(report: dict, metric: str, a: str, b: str) -> dict | None:
    """The paired comparison a - b (flipped if stored as b - a)."""
    for p in report.get("paired", {}).get(metric, []):
        if p["a"] == a and p["b"] == b:
            return p
        if p["a"] == b and p["b"] == a:
            flipped = dict(p, a=a, b=b, diff=None if p["diff"] is None else -p["diff"])
            flipped["ci"] = None if p["ci"] is None else [-p["ci"][1], -p["ci"][0]]
            return flipped
    return None


def _fig(report, ap, key="overall"):
    acc = report["accuracy"][ap]
    return acc[key] if key == "overall" else acc["by_kind"].get(key, {"value": None, "n": 0})


def _more_biased(report: dict, ap: str, others: list[str]) -> str | None:
    """The reason to remove `ap` when it is measurably more biased than another approach still in
    the running (a paired BBQ comparison whose interval excludes zero, Holm-adjusted p < 0.05),
    else None. Noise in one category of a few dozen probes is not evidence."""
    for p in report.get("bias", {}).get("paired") or []:
        if ap not in (p["a"], p["b"]) or (p["b"] if p["a"] == ap else p["a"]) not in others:
            continue
        other, sign = (p["b"], 1) if p["a"] == ap else (p["a"], -1)
        for c in p["comparisons"]:
            if c["separated"] and sign * c["diff"] > 0:
                lo, hi = sorted((sign * c["ci"][0], sign * c["ci"][1]))
                return (f"{ap} is measurably more biased than {other}: |{c['score']}| in {c['category']} is "
                        f"{sign * c['diff']:.2f} higher (paired 95% CI {lo:.2f} to {hi:.2f}, n={c['n']} probes, "
                        f"Holm-adjusted p={c['p_holm']:.3g}).")
    return None


def _unseparated(p: dict | None) -> str:
    """A comparison that did not separate, with the test that decided: a bootstrap interval that
    excludes zero is not enough when the paired test's p (Holm-adjusted over the approach pairs)
    is 0.05 or more, and the reader, who sees that interval, is told so."""
    if not p or p.get("diff") is None:
        return "no paired comparison"
    txt = f"difference {_pct(p['diff'])}, paired 95% CI {_pct(p['ci'][0])} to {_pct(p['ci'][1])}, n={p['n']}"
    if p.get("p_value") is None:
        return txt
    txt += f", p={p['p_value']:.3g}" + (f", Holm-adjusted p={p['p_holm']:.3g}" if p.get("p_holm") is not None else "")
    if p["ci"][0] > 0 or p["ci"][1] < 0:
        corrected = p["p_value"] < ALPHA <= (p.get("p_holm") or 0)  # the test alone would have separated them
        txt += (f": the interval alone excludes zero, but the paired test that decides ({p.get('test') or 'exact'}) "
                f"does not reach p < {ALPHA:g}{' once corrected for the pairwise comparisons made' if corrected else ''}"
                ", so the difference could still be chance")
    return txt


def _power_text(p: dict) -> str:
    """What a comparison that separated nothing could and could not have shown."""
    if p.get("mde") is None:
        return p.get("power_note") or ""
    gap = max(abs(p["ci"][0]), abs(p["ci"][1]))
    need = (f"; separating the observed {100 * abs(p['diff']):.0f} points would take about {p['n_needed']} items"
            if p.get("n_needed") else "")
    return (f"They may differ by up to {100 * gap:.0f} percentage points and this test set cannot tell: the smallest "
            f"difference it could show (4 times in 5) is about {100 * p['mde']:.0f} points{need}.")


# the kinds of item where a built approach should differ from base, as the verdict names them
KIND_WORDS = {"unseen": "unseen facts", "paraphrase": "trained facts asked in new words"}


def _ahead(report: dict, kind: str, a: str, b: str, p: dict) -> str:
    return (f"On {KIND_WORDS[kind]} {a} ({_pct(_fig(report, a, kind)['value'])}) is measurably ahead of {b} "
            f"({_pct(_fig(report, b, kind)['value'])}; paired difference {_pct(p['diff'])}, 95% CI {_pct(p['ci'][0])} "
            f"to {_pct(p['ci'][1])}, n={p['n']}).")


def _against_base(report: dict, aps: list[str]) -> list[str]:
    """Where a built approach measurably adds to the base model, by kind of item: unseen facts
    (what retrieval should bring) and paraphrases of trained facts (what fine-tuning should)."""
    if "base" not in aps:
        return []
    out = []
    for kind in KIND_WORDS:
        for ap in aps:
            p = _pair(report, f"accuracy_{kind}", ap, "base") if ap != "base" else None
            if p and p["separated"] and p["diff"] > 0:
                out.append(_ahead(report, kind, ap, "base", p))
    return out


def _form_notes(report: dict, aps: list[str], winner: str) -> list[str]:
    """Closed-form items are decided by option likelihood (what a model knows); an approach
    that gets more of them right in its generated answers only by beginning with the expected
    word more often is named, so the form is not read as knowledge."""
    def closed(ap, key):
        return ((report["accuracy"][ap].get("closed_form") or {}).get(key) or {}).get("value")

    notes = []
    w_gen, w_know, w_form = closed(winner, "generated"), closed(winner, "option_likelihood"), closed(winner, "form")
    for ap in aps:
        gen, know, form = closed(ap, "generated"), closed(ap, "option_likelihood"), closed(ap, "form")
        if ap == winner or None in (gen, know, form, w_gen, w_know, w_form):
            continue
        if gen > w_gen and form > w_form and know <= w_know:
            n = report["accuracy"][ap]["closed_form"]["option_likelihood"]["n"]
            notes.append(f"{ap} answers closed-form questions in the expected form more often ({_pct(form)} against "
                         f"{_pct(w_form)} for {winner}), so more of its generated answers begin with the right word "
                         f"({_pct(gen)} against {_pct(w_gen)}); it does not know more: by option likelihood "
                         f"{_pct(know)} against {_pct(w_know)} (n={n}).")
    return notes


def recommend(report: dict) -> dict:
    """{"winner", "summary", "reasons": [...], "caveats": [...], "separated": bool, "rule"}."""
    bounds = report.get("bounds") or []
    aps = [ap for ap in report["approaches"] if report["accuracy"].get(ap, {}).get("overall", {}).get("value") is not None
           and ap not in bounds]
    if not aps:
        return {"winner": None, "summary": "No approach was evaluated.", "reasons": [], "caveats": [], "rule": RULE,
                "separated": False}
    reasons, caveats = [], []
    leader = max(aps, key=lambda ap: _fig(report, ap)["value"])
    lf = _fig(report, leader)
    tied = [ap for ap in aps if _fig(report, ap)["value"] == lf["value"]]
    who = f"{leader} has" if len(tied) == 1 else f"{' and '.join(tied)} share"
    reasons.append(f"{who} the highest test accuracy: {_pct(lf['value'])} (95% CI {_pct(lf['ci'][0])}-"
                   f"{_pct(lf['ci'][1])}, n={lf['n']}).")
    left = [leader]
    for ap in aps:
        if ap == leader:
            continue
        p = _pair(report, "accuracy", leader, ap)
        f = _fig(report, ap)
        if p and p["separated"]:
            reasons.append(f"{leader} beats {ap} ({_pct(f['value'])}, n={f['n']}) by {_pct(p['diff'])} "
                           f"(paired 95% CI {_pct(p['ci'][0])} to {_pct(p['ci'][1])}, n={p['n']}, p={p['p_value']:.3g}).")
        else:
            left.append(ap)
            reasons.append(f"The evidence does not separate {leader} from {ap} ({_pct(f['value'])}; {_unseparated(p)})."
                           + (" " + _power_text(p) if p else ""))
    separated = len(left) == 1 and len(aps) > 1
    tied = list(left)

    # 2. unseen facts
    if len(left) > 1:
        best_u = max(left, key=lambda ap: _fig(report, ap, "unseen")["value"] or -1)
        for ap in list(left):
            p = _pair(report, "accuracy_unseen", best_u, ap)
            if ap != best_u and p and p["separated"] and len(left) > 1:
                left.remove(ap)
                reasons.append(_ahead(report, "unseen", best_u, ap, p))
    reasons += [r for r in _against_base(report, aps) if r not in reasons]
    # 3. bias
    if len(left) > 1:
        for ap in list(left):
            worse = _more_biased(report, ap, [o for o in left if o != ap])
            if worse and len(left) > 1:
                left.remove(ap)
                reasons.append(worse)
    # 4. overfitting
    if len(left) > 1:
        for ap in list(left):
            ret = report.get("overfitting", {}).get("retention", {}).get(ap, {}).get("forgetting")
            gap = (report.get("overfitting", {}).get("paraphrase_vs_verbatim", {}).get(ap) or {}).get("gap") or {}
            if ret and ret.get("separated") and ret["diff"] > 0 and len(left) > 1:
                left.remove(ap)
                reasons.append(f"{ap} forgot general knowledge: retention {_pct(ret['diff'])} below base (n={ret['n']}).")
            elif gap.get("ci") and gap["separated"] and gap["ci"][0] > GAP_LIMIT and len(left) > 1:
                left.remove(ap)
                reasons.append(f"{ap} memorised its training questions: on the same {gap['n']} facts it answers the "
                               f"trained question {_pct(gap['diff'])} more often than the test's paraphrase (paired 95% "
                               f"CI {_pct(gap['ci'][0])} to {_pct(gap['ci'][1])}), more than {_pct(GAP_LIMIT)}.")
    # 5. cost
    cost = report.get("cost", {})
    if len(left) > 1:
        built = [ap for ap in left if ap != "base"]
        pool = built or left
        upd = {ap: (cost.get(ap) or {}).get("update_s") for ap in pool}
        measured = {ap: v for ap, v in upd.items() if v is not None}
        winner = min(measured, key=measured.get) if measured else pool[0]
        others = ", ".join(f"{ap} {measured[ap]:.1f} s" for ap in measured if ap != winner)
        if measured:
            how = (cost.get(winner) or {}).get("update_how") or "measured"
            reasons.append(f"Not separated on accuracy, so the cheaper to update wins: taking in one new document "
                           f"costs {winner} {measured[winner]:.1f} s ({how})" + (f", against {others}." if others else "."))
        if "base" in left and winner != "base":
            reasons.append(f"No built approach measurably beat the base model here; {winner} is recommended because it "
                           f"can take in the documents, but its gain over base is not shown by this test set.")
    else:
        winner = left[0]
    if winner == "base":
        reasons.append("The base model alone is best here: nothing needs to be built.")
    reasons += _form_notes(report, aps, winner)

    n_test = lf["n"]
    if n_test < SMALL_TEST:
        caveats.append(f"Small test set (n={n_test}): intervals are wide and only large differences can be shown.")
    meta = report.get("run", {})
    if meta.get("quick"):
        caveats.append("Quick profile: a stratified subset of the test split and short fine-tuning; run without "
                       "--quick for the full figures.")
    if not meta.get("judge"):
        caveats.append("No LLM judge was used: accuracy is exact match / key-fact recall / refusal, not a judged "
                       "correctness.")
    else:
        unscored = sum(fig.get("not_scored", 0) for ap in aps
                       for fig in (report["accuracy"][ap].get("judge") or {}).values())
        if unscored:
            caveats.append(f"The judge ({meta['judge']}) could not score {unscored} answer-metric pairs; its "
                           f"figures cover only the answers it scored.")
    nr = report.get("metrics_not_run") or {}
    if nr:
        caveats.append("Metrics not run: " + "; ".join(f"{k} ({v.get('reason')})" for k, v in nr.items()) + ".")
    if len(aps) == 1:
        verdict = f"Only {winner} was evaluated: there is nothing to compare it with (evaluate base beside it)."
    elif separated:
        verdict = f"Recommended: {winner}. It is measurably the most accurate of {', '.join(aps)}."
    else:
        verdict = (f"Recommended: {winner}. The evidence does not separate {', '.join(tied)} on accuracy; "
                   f"{winner} is preferred by the rule's later steps (unseen facts, bias, overfitting, cost).")
    diagnosis = [a["sentence"] for a in (report.get("attribution") or {}).values() if a.get("sentence")]
    if bounds:
        caveats.append(f"{', '.join(bounds)}: an upper bound evaluated beside the others (handed each question's "
                       "gold documents), never recommended.")
    return {"winner": winner, "summary": verdict, "reasons": reasons, "caveats": caveats, "separated": separated,
            "diagnosis": diagnosis, "rule": RULE}
