"""The recommendation rule on crafted results."""
from evals.recommend import RULE, recommend
from evals.stats import mean_ci, paired_difference


def crafted(scores: dict[str, list[float]], unseen: dict[str, list[float]] | None = None, update_s=None, bias=None,
            quick=False, judge=None, retention_forgetting=None):
    """A minimal report: per-approach 0/1 scores on the same items."""
    unseen = unseen or {ap: s[: len(s) // 2] for ap, s in scores.items()}
    aps = list(scores)
    rep = {"approaches": aps, "run": {"quick": quick, "judge": judge}, "metrics_not_run": {},
           "accuracy": {ap: {"overall": mean_ci(scores[ap]), "by_kind": {"unseen": mean_ci(unseen[ap])}} for ap in aps},
           "paired": {"accuracy": [], "accuracy_unseen": []},
           "cost": {ap: {"update_s": (update_s or {}).get(ap), "update_how": "measured"} for ap in aps},
           "bias": {"bbq": bias or {}}, "overfitting": {"retention": {}, "gap": {}}}
    for i, a in enumerate(aps):
        for b in aps[i + 1:]:
            rep["paired"]["accuracy"].append({"a": a, "b": b, **paired_difference(scores[a], scores[b])})
            rep["paired"]["accuracy_unseen"].append({"a": a, "b": b, **paired_difference(unseen[a], unseen[b])})
    for ap, f in (retention_forgetting or {}).items():
        rep["overfitting"]["retention"][ap] = {"forgetting": f}
    return rep


def test_clear_winner():
    r = recommend(crafted({"base": [0] * 50 + [1] * 10, "ft": [0] * 40 + [1] * 20, "rag": [1] * 50 + [0] * 10},
                          update_s={"ft": 300.0, "rag": 0.5}))
    assert r["winner"] == "rag" and r["separated"]
    assert r["summary"].startswith("Recommended: rag")
    assert any("beats base" in s and "n=60" in s for s in r["reasons"])
    assert any("Small test set (n=60)" in c for c in r["caveats"])
    assert any("No LLM judge" in c for c in r["caveats"])


def test_no_separation_prefers_the_cheaper_to_update():
    a = [1, 0] * 15
    b = [0, 1] * 15
    r = recommend(crafted({"ft": a, "rag": b}, update_s={"ft": 240.0, "rag": 0.4}))
    assert not r["separated"]
    assert r["winner"] == "rag"
    assert "does not separate" in r["summary"]
    assert any("cheaper to update" in s and "0.4 s" in s and "240.0 s" in s for s in r["reasons"])
    assert r["reasons"][0].startswith("ft and rag share the highest test accuracy: 50%")  # a tie is not a lead
    # the other way round when retraining were cheaper
    r = recommend(crafted({"ft": a, "rag": b}, update_s={"ft": 0.1, "rag": 5.0}))
    assert r["winner"] == "ft"


def test_unseen_facts_break_a_tie():
    overall_ft = [1] * 20 + [0] * 20
    overall_rag = [1] * 24 + [0] * 16
    unseen_ft = [0] * 30
    unseen_rag = [1] * 25 + [0] * 5
    r = recommend(crafted({"ft": overall_ft, "rag": overall_rag}, unseen={"ft": unseen_ft, "rag": unseen_rag},
                          update_s={"ft": 0.1, "rag": 5.0}))
    assert r["winner"] == "rag"  # though ft is cheaper to update, it is measurably behind on unseen facts
    assert any("unseen facts" in s for s in r["reasons"])


def probe_records(approach: str, rng, p_unknown=0.3, p_biased=0.5, categories=12, per_condition=13) -> list[dict]:
    """BBQ records as the harness writes them: per category, ambiguous and disambiguated probes,
    each answered "unknown" with p_unknown, else with the biased person with p_biased."""
    out = []
    for c in range(categories):
        for cond in ("ambig", "disambig"):
            for i in range(per_condition):
                unknown = bool(rng.random() < p_unknown)
                biased = (not unknown) and bool(rng.random() < p_biased)
                correct = unknown if cond == "ambig" else (not unknown and not biased)
                out.append({"approach": approach, "id": i, "category": f"cat{c}", "condition": cond,
                            "unknown_chosen": unknown, "biased": biased, "correct": float(correct)})
    return out


def with_bias(report: dict, records: dict[str, list[dict]]) -> dict:
    from itertools import combinations

    from evals import bias

    report["bias"]["bbq"] = {ap: bias.bbq_scores(rs) for ap, rs in records.items()}
    report["bias"]["paired"] = [{"a": a, "b": b, "comparisons": bias.compare_bias(records[a], records[b])}
                                for a, b in combinations(records, 2)]
    return report


def test_bias_and_forgetting_remove_a_tied_candidate():
    import numpy as np

    a, b = [1, 0] * 15, [0, 1] * 15
    rng = np.random.default_rng(0)
    records = {"ft": probe_records("ft", rng, p_biased=0.95, per_condition=26),
               "rag": probe_records("rag", rng, per_condition=26)}
    r = recommend(with_bias(crafted({"ft": a, "rag": b}, update_s={"ft": 0.1, "rag": 5.0}), records))
    assert r["winner"] == "rag" and any("ft is measurably more biased than rag" in s for s in r["reasons"]), r
    forgot = paired_difference([1] * 30, [0] * 20 + [1] * 10)
    r = recommend(crafted({"ft": a, "rag": b}, update_s={"ft": 0.1, "rag": 5.0}, retention_forgetting={"ft": forgot}))
    assert r["winner"] == "rag" and any("forgot general knowledge" in s for s in r["reasons"])


def test_per_category_noise_does_not_remove_an_approach():
    """The same model twice (two seeds), 12 categories of 26 probes, ten times over: the
    per-category scores spread widely by chance, and the old rule (largest |score| more than
    0.20 above the other's) removed one of the two in 2 of the 10; the paired, Holm-adjusted
    rule removes neither in any."""
    import numpy as np

    a, b = [1, 0] * 15, [0, 1] * 15
    old_rule_removed = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        records = {ap: probe_records(ap, rng, p_unknown=0.1) for ap in ("ft", "rag")}
        report = with_bias(crafted({"ft": a, "rag": b}, update_s={"ft": 0.1, "rag": 5.0}), records)
        r = recommend(report)
        assert r["winner"] == "ft" and not any("biased" in s for s in r["reasons"]), (seed, r["reasons"])
        assert len(report["bias"]["paired"][0]["comparisons"]) >= 20  # compared, not skipped for want of probes
        worst = [max(abs(e[k]) for e in sc.values() for k in ("s_dis", "s_amb") if e[k] is not None and e[f"{k}_n"] >= 10)
                 for sc in report["bias"]["bbq"].values()]
        old_rule_removed += abs(worst[0] - worst[1]) > 0.20
    assert old_rule_removed == 2  # seeds 4 and 9: the largest |score| of one exceeds the other's by 0.21 and 0.26


def test_base_wins_only_when_alone():
    r = recommend(crafted({"base": [1] * 50 + [0] * 10, "ft": [0] * 50 + [1] * 10}, update_s={"ft": 100.0}))
    assert r["winner"] == "base" and any("nothing needs to be built" in s for s in r["reasons"])
    a, b = [1, 0] * 15, [0, 1] * 15
    r = recommend(crafted({"base": a, "rag": b}, update_s={"rag": 1.0}))
    assert r["winner"] == "rag" and any("No built approach measurably beat the base model" in s for s in r["reasons"])


def test_rule_is_documented_and_quick_caveat():
    assert "1. Accuracy first" in RULE and "5. Cost" in RULE
    r = recommend(crafted({"ft": [1] * 200, "rag": [1] * 200}, quick=True, judge="j"))
    assert any("Quick profile" in c for c in r["caveats"])
    assert not any("No LLM judge" in c for c in r["caveats"]) and not any("Small test" in c for c in r["caveats"])


def test_one_approach_alone_is_not_called_the_most_accurate():
    r = recommend(crafted({"rag": [1, 0, 1, 1]}))
    assert r["winner"] == "rag" and not r["separated"]
    assert r["summary"].startswith("Only rag was evaluated") and "measurably" not in r["summary"]


def test_the_verdict_names_what_an_approach_adds_to_base_on_unseen_facts_even_when_it_wins_outright():
    base, rag = [0] * 50 + [1] * 10, [1] * 50 + [0] * 10
    r = recommend(crafted({"base": base, "rag": rag}, unseen={"base": [0] * 30, "rag": [1] * 20 + [0] * 10},
                          update_s={"rag": 0.5}))
    assert r["winner"] == "rag" and r["separated"]
    line = next(s for s in r["reasons"] if s.startswith("On unseen facts"))
    assert line.startswith("On unseen facts rag (67%) is measurably ahead of base (0%; paired difference 67%, 95% CI")
    assert line.endswith("n=30).") and sum(s.startswith("On unseen facts") for s in r["reasons"]) == 1
    # not separated on unseen facts: nothing is claimed
    r = recommend(crafted({"base": base, "rag": rag}, unseen={"base": [0, 1] * 5, "rag": [1, 0] * 5}))
    assert not any(s.startswith("On unseen facts") for s in r["reasons"])


def test_overfitting_is_the_gap_on_the_same_facts_not_the_train_test_gap():
    """An adapter that answers its trained facts and their paraphrases alike is not overfitting,
    however far its train accuracy is above a test that holds facts it never saw; one that
    answers only the trained wording of the same facts is, when the interval says so."""
    a, b = [1, 0] * 20, [0, 1] * 20
    rep = crafted({"ft": a, "rag": b}, update_s={"ft": 0.1, "rag": 5.0})
    rep["overfitting"]["gap"] = {"ft": {"gap": 0.7}}  # trained 95%, test 25%: the old rule removed it
    rep["overfitting"]["paraphrase_vs_verbatim"] = {"ft": {"gap": paired_difference([1] * 30, [1] * 25 + [0] * 5)}}
    r = recommend(rep)
    assert r["winner"] == "ft" and not any("memorised" in s for s in r["reasons"])
    rep["overfitting"]["paraphrase_vs_verbatim"] = {"ft": {"gap": paired_difference([1] * 30, [1] * 6 + [0] * 24)}}
    r = recommend(rep)
    assert r["winner"] == "rag"
    assert any(s.startswith("ft memorised its training questions: on the same 30 facts") for s in r["reasons"])


def test_an_interval_that_excludes_zero_but_fails_holm_is_explained():
    from evals.stats import holm

    # a beats b on 12 items and loses 3 (p about 0.035 alone); c is a with two answers swapped
    a = [1] * 12 + [0] * 3 + [1] * 10 + [0] * 35
    b = [0] * 12 + [1] * 3 + [1] * 10 + [0] * 35
    c = [0] + a[1:-1] + [1]
    rep = crafted({"a": a, "b": b, "c": c})
    holm(rep["paired"]["accuracy"])
    ab = next(p for p in rep["paired"]["accuracy"] if {p["a"], p["b"]} == {"a", "b"})
    assert ab["ci"][0] > 0 and ab["p_value"] < 0.05 <= ab["p_holm"]  # the case: the interval alone would say yes
    reason = next(s for s in recommend(rep)["reasons"] if "does not separate a from b" in s)
    assert f"Holm-adjusted p={ab['p_holm']:.3g}" in reason and "interval alone excludes zero" in reason
    assert "once corrected for the pairwise comparisons" in reason
