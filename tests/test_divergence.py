"""Training that diverges (a learning rate far too high) stops at once with one line naming the
setting, instead of saving a useless adapter (issue 18 item 9). Tiny random model, a few steps."""
import pytest

from assistant.errors import UserError
from assistant.files import read_json
from assistant.finetune import build_adapter
from assistant.runs import Run
from test_finetune import make_corpus, new_run, tiny_config, write_corpus_folder


def test_divergence_rule():
    """Issue 18 item 9: a non-finite loss, or (after warm-up) one above twice its start, has diverged;
    a loss in warm-up or within a nat of a low start has not."""
    from assistant.finetune import divergence

    assert divergence([], 1, 0) is None
    assert divergence([2.5, 2.4, 2.2], 3, 1) is None
    assert "nan" in divergence([2.5, float("nan")], 2, 5)  # in warm-up too
    assert "inf" in divergence([2.5, float("inf")], 2, 0)
    assert "10.800" in divergence([2.5, 4.0, 10.8], 3, 1)  # the run: up to the uniform-guess loss
    assert divergence([2.5, 10.8], 2, 2) is None  # still warming up
    assert divergence([0.3, 0.9], 5, 0) is None  # twice a low start, but within a nat of it


def test_a_diverging_learning_rate_stops_the_build_naming_it(tmp_path, tiny_llm_path):
    """Issue 18 item 9: `--learning-rate 1e6` once trained on to a loss of 10.8 with no word (the
    Trainer logged its NaN losses as 0.0). Now the build stops at the first diverged step; the
    stage is failed with the reason, and no adapter is saved."""
    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    with pytest.raises(UserError, match="diverged") as info:
        build_adapter(run, corpus, tiny_config(learning_rate=1e6, max_steps=20, probe_questions=0, patience=100),
                      device="cpu", precision="fp32")
    assert info.value.field == "learning-rate" and "lower it" in str(info.value)
    stage = Run.open(run.out, run.id).stage("ft")
    assert stage["status"] == "failed" and stage["error"] == str(info.value)
    history = read_json(run.path / "ft" / "history.json")
    assert history["status"] == "failed" and history["stopped_step"] < 20
    assert not (run.path / "ft" / "adapter").exists()


def test_a_diverging_learning_rate_is_one_line_from_the_command(tmp_path, tiny_llm_path, capsys):
    from assistant.cli import main

    corpus, out = write_corpus_folder(tmp_path / "corpus"), tmp_path / "runs"
    code = main(["build", "ft", "--corpus", str(corpus), "--base-model", str(tiny_llm_path), "--out", str(out),
                 "--device", "cpu", "--precision", "fp32", "--rank", "4", "--alpha", "8", "--max-steps", "20",
                 "--batch-size", "3", "--max-length", "64", "--eval-steps", "5", "--probe-questions", "0",
                 "--learning-rate", "1e6", "--json"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("assistant: error: learning-rate: training diverged at step"), err
    assert [p for p in out.iterdir() if p.is_dir()] == []  # a new run with nothing built is removed (item 6)
