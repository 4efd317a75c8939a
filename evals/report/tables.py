"""Every table of the report as rows of strings: report.md, report.html and the app's Results
screen all print these same rows, so they can never disagree."""
from __future__ import annotations

from ..bias import MIN_N
from ..stats import fmt
from .build import KINDS, STYLE_METRICS


def _num(v, digits=2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _no_bias_pairs(r: dict) -> str:
    """Why no paired bias comparison was made."""
    if len(r["bias"].get("paired") or []) == 0:
        return "No paired bias comparison: fewer than two approaches answered the probes."
    return (f"No paired bias comparison: no category had {MIN_N} or more probes answered with a person by both "
            "approaches of a pair (the s_DIS and s_AMB intervals above are too wide to compare).")


def table_rows(r: dict) -> dict[str, list[list[str]]]:
    """Every table of the report, as rows of strings (shared by markdown, HTML and the app), and
    `bias_paired_note`, the sentence that sums up the paired bias comparisons."""
    aps = r["approaches"]
    t = {}
    # the trained facts asked in their trained words: did the adapter learn what it was taught?
    verbatim = {ap: (r.get("overfitting", {}).get("paraphrase_vs_verbatim", {}).get(ap) or {}).get("verbatim") for ap in aps}
    t["accuracy"] = [["approach", "accuracy", *KINDS, "trained facts, asked as trained"]] + [
        [ap, fmt(r["accuracy"][ap]["overall"]), *(fmt(r["accuracy"][ap]["by_kind"][k]) for k in KINDS),
         fmt(verbatim[ap])] for ap in aps]
    if r["run"].get("judge"):
        t["accuracy"][0] += ["judge correctness", "judge faithfulness"]
        for row, ap in zip(t["accuracy"][1:], aps):
            js = r["accuracy"][ap].get("judge") or {}
            row += [_judge_cell(js.get(m)) for m in ("judge_answer_correctness", "judge_faithfulness")]
    t["metrics"] = [["metric", *aps]] + [
        [m, *(fmt(r["accuracy"][ap]["metrics"][m], pct=False) for ap in aps)] for m in STYLE_METRICS]
    t["closed"] = [["approach", "knows: option likelihood (decides)", "form: starts with an option",
                    "generated answer right"]] + [
        [ap, *(fmt(r["accuracy"][ap]["closed_form"].get(k)) for k in ("option_likelihood", "form", "generated"))]
        for ap in aps]
    t["paired"] = [["comparison", "metric", "difference", "95% CI", "p", "p (Holm)", "n", "separated",
                    "smallest it could show", "items to separate it"]] + [
        [f"{p['a']} - {p['b']}", m, _num(p["diff"]), f"[{_num(p['ci'][0])}, {_num(p['ci'][1])}]" if p["ci"] else "n/a",
         _num(p["p_value"], 3), _num(p.get("p_holm"), 3),
         f"{p['n']}" + (f" ({p['clusters']} documents)" if p.get("clusters") else ""), "yes" if p["separated"] else "no",
         _num(p.get("mde")), "-" if p["separated"] else str(p.get("n_needed") or "n/a")]
        for m, ps in r["paired"].items() for p in ps]
    rows = [["approach", "category", "acc. ambiguous", "acc. disambiguated", "s_DIS [95% CI]", "s_AMB [95% CI]"]]
    for ap in aps:
        cats = r["bias"]["bbq"].get(ap) or {}
        for cat, e in cats.items():
            rows.append([ap, cat, f"{_num(e['accuracy_ambig'])} (n={e['n_ambig']})",
                         f"{_num(e['accuracy_disambig'])} (n={e['n_disambig']})",
                         *(f"{_bias_cell(e, k)} (n={e[f'{k}_n']})" + (f" {e[f'{k}_note']}" if e.get(f"{k}_note") else "")
                           for k in ("s_dis", "s_amb"))])
    t["bbq"] = rows
    # the heatmap's grid: one row per category and score, one column per approach
    cats = sorted({c for ap in aps for c in (r["bias"]["bbq"].get(ap) or {})})
    t["bias_grid"] = [["category", "score", *aps]] + [
        [cat, label, *(_bias_cell((r["bias"]["bbq"].get(ap) or {}).get(cat) or {}, k) for ap in aps)]
        for cat in cats for k, label in (("s_dis", "s_DIS"), ("s_amb", "s_AMB"))]
    comparisons = [(p, c) for p in r["bias"].get("paired") or [] for c in p["comparisons"]]
    t["bias_paired"] = [["comparison", "category", "score", "|a| - |b|", "95% CI", "p (Holm)", "n probes"]] + [
        [f"{p['a']} - {p['b']}", c["category"], c["score"], f"{c['diff']:+.2f}", f"[{c['ci'][0]:+.2f}, {c['ci'][1]:+.2f}]",
         _num(c.get("p_holm"), 3), str(c["n"])] for p, c in comparisons if c["separated"]]
    t["bias_paired_note"] = (f"{sum(c['separated'] for _, c in comparisons)} of {len(comparisons)} paired category "
                             "comparisons separated (95% CI excludes zero, Holm-adjusted p < 0.05)." if comparisons
                             else _no_bias_pairs(r))
    t["attribution"] = [["approach", "items", "correct", "wrong: retrieved but misread / learned, not generalised",
                         "wrong: retrieval missed / not learned"]]
    for ap, a in (r.get("attribution") or {}).items():
        c, n = list(a["counts"].values()), a["n"]
        share = (lambda k: f"{k} ({100 * k / n:.0f}%)") if n else str
        t["attribution"].append([f"{ap} ({a['kind']})", str(n), *(share(k) for k in c)])
    t["swaps"] = [["approach", "answers changed", "n"]] + [
        [ap, f"{s['changed']} ({_num(s['rate'])})", str(s["n"])] for ap, s in r["bias"]["swaps"].items()]
    o = r["overfitting"]
    t["gap"] = [["approach", "train (verbatim sample)", "test (answerable)", "gap", "verbatim (trained facts)",
                 "paraphrase", "same-fact gap", "retention", "forgetting vs base"]]
    for ap in aps:
        g, pv, ret = o["gap"][ap], o["paraphrase_vs_verbatim"][ap], o["retention"].get(ap, {})
        forg = ret.get("forgetting")
        same = pv.get("gap") or {}
        t["gap"].append([ap, fmt(g["train"]), fmt(g["test"]), _num(g["gap"]), fmt(pv["verbatim"]), fmt(pv["paraphrase"]),
                         f"{_num(same['diff'])} [{_num(same['ci'][0])}, {_num(same['ci'][1])}] (n={same['n']})"
                         if same.get("ci") else "-",
                         fmt(ret.get("accuracy")),
                         f"{_num(forg['diff'])} [{_num(forg['ci'][0])}, {_num(forg['ci'][1])}] (n={forg['n']})"
                         if forg and forg.get("ci") else "-"])
    t["loss"] = [["approach", "val-loss minimum (other facts)", "at step", "held-out phrasings minimum", "at step",
                  "stopped on", "best step", "stopped at", "rise after minimum"]]
    for ap, ls in o["loss"].items():
        if "val_min" in ls or "phrasings_min" in ls:
            v, ph = ls.get("val_min") or {}, ls.get("phrasings_min") or {}
            t["loss"].append([ap, _num(v.get("loss"), 3), _num(v.get("step"), 0), _num(ph.get("loss"), 3),
                              _num(ph.get("step"), 0), ls.get("stop_on") or "val", str(ls.get("best_step")),
                              str(ls.get("stopped_step")), _num(ls.get("val_rise_after_min"), 3)])
        else:
            t["loss"].append([ap, ls.get("reason", "no validation loss recorded"), "", "", "", "", "", "", ""])
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


def _bias_cell(e: dict, k: str) -> str:
    """'+0.33 [+0.10, +0.55]', or 'n/a'."""
    if e.get(k) is None:
        return "n/a"
    ci = e.get(f"{k}_ci")
    return f"{e[k]:+.2f}" + (f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else "")


def _judge_cell(fig: dict | None) -> str:
    text = fmt(fig, pct=False)
    return text + (f"; {fig['not_scored']} not scored" if fig and fig.get("not_scored") else "")
