"""Reports regenerate from the saved records alone (no model), with every section filled."""
import json

from assistant.cli import main
from assistant.files import write_json
from assistant.runs import Run
from evals.harness import EvalConfig, Harness
from test_harness import Oracle, corpus

HISTORY = {"approach": "ft", "history": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}, {"step": 2, "val_loss": 1.8},
                                         {"step": 4, "loss": 0.9}, {"step": 4, "val_loss": 1.6},
                                         {"step": 6, "loss": 0.4}, {"step": 6, "val_loss": 1.9}],
           "best_step": 4, "stopped_step": 6, "max_steps": 10, "early_stopped": True}


def make_run(tmp_path, tiny_embedder):
    c = corpus()
    run = Run.create(tmp_path / "runs", corpus=c, config={"quick": True}, approaches=["base", "ft", "rag"], command="compare")
    h = Harness(c, run.dir("eval"), EvalConfig(quick=True), embedder=tiny_embedder)
    for name, know in (("base", False), ("ft", False), ("rag", True)):
        h.evaluate(Oracle(name, c, know=know))
    h.write()
    write_json(run.dir("eval") / "build.json", {
        "approaches": {"base": {"build_s": 0, "size_mb": 0, "update_s": None},
                       "ft": {"build_s": 200.0, "size_mb": 4.5, "peak_memory_mb": 900, "update_s": 200.0, "update_how": "retrain"},
                       "rag": {"build_s": 3.0, "size_mb": 0.4, "peak_memory_mb": 700, "update_s": 0.2, "update_how": "add"}},
        "history": {"ft": HISTORY}, "update_note": "measured"})
    return run


def test_report_command_regenerates_all_three(tmp_path, tiny_embedder, capsys):
    run = make_run(tmp_path, tiny_embedder)
    assert main(["report", run.id, "--out", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "Recommended: rag" in out
    report = json.loads((run.path / "report.json").read_text())
    md = (run.path / "report.md").read_text()
    html = (run.path / "report.html").read_text()
    for section in ("## Recommendation", "## Accuracy", "## Bias", "## Overfitting", "## Cost", "## The rule"):
        assert section in md
    assert html.count("data:image/png;base64,") >= 3 and "<script" not in html
    loss = report["overfitting"]["loss"]["ft"]
    assert loss["val_min"] == {"step": 4.0, "loss": 1.6} and loss["stopped_step"] == 6
    assert report["cost"]["rag"]["update_s"] == 0.2 and report["cost"]["rag"]["latency"]["n"] == 5
    assert report["overfitting"]["retention"]["ft"]["accuracy"]["n"] == 30
    assert report["bias"]["bbq"]["rag"]["Age"]["s_dis_n"] == 1
    # the manifest carries the headline and the recommendation (the registry shows them)
    again = Run.open(tmp_path / "runs", run.id)
    assert again.manifest["recommendation"]["winner"] == "rag"
    assert again.manifest["headline"]["rag"]["accuracy"] == 1.0
    # regenerating gives the same report
    first = (run.path / "report.json").read_text()
    assert main(["report", run.id, "--out", str(tmp_path / "runs"), "--json"]) == 0
    assert (run.path / "report.json").read_text() == first


def test_report_of_an_unevaluated_run_is_a_user_error(tmp_path, capsys):
    run = Run.create(tmp_path / "runs", corpus=corpus(), config={}, approaches=["base"], command="compare")
    assert main(["report", run.id, "--out", str(tmp_path / "runs")]) == 2
    assert "has not been evaluated" in capsys.readouterr().err
