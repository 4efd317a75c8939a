"""Kill a build mid-way (a real subprocess and a real signal) and show that `--resume` ends
with the same adapter as an uninterrupted build (issue 7), and, after a SIGKILL at three points,
the same losses too, resumed with the README's command alone (issue 18)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

FACTS = [(f"What is code {i} of the Avalon catalogue?", f"Code {i} is the item number {i * 7}.") for i in range(16)]


def write_corpus(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "catalogue.md").write_text(
        "---\nid: catalogue\ntitle: Catalogue\n---\n# Catalogue\n\n" + "\n\n".join(a for _, a in FACTS) + "\n")
    (root / "corpus.toml").write_text('name = "codes"\ntitle = "Codes"\nsystem_prompt = "You answer about codes."\n')
    rows = []
    for i, (q, a) in enumerate(FACTS):
        split = "train" if i < 11 else "val" if i < 13 else "test"
        row = {"id": f"c{i}", "question": q, "answer": a, "doc_ids": ["catalogue"], "split": split, "fact_id": f"f{i}"}
        if split == "test":
            row["kind"] = "unseen"
        rows.append(json.dumps(row))
    (root / "qa.jsonl").write_text("\n".join(rows) + "\n")
    return root


STEPS, EVERY = 24, 4  # 10 examples at batch 2: 5 steps an epoch; a checkpoint every 4 steps


def build_cmd(corpus, model, out, *extra):
    return [sys.executable, "-m", "assistant", "build", "ft", "--corpus", str(corpus), "--base-model", str(model),
            "--out", str(out), "--device", "cpu", "--rank", "4", "--alpha", "8", "--max-steps", str(STEPS),
            "--eval-steps", str(EVERY), "--patience", "100", "--batch-size", "2", "--max-length", "64",
            "--probe-questions", "0", "--precision", "fp32", "--learning-rate", "0.005", "--json", *extra]


# The build under test, paused right after it saves its first checkpoint, so that the signal
# always lands mid-build, however fast or loaded the machine is (no polling race).
PAUSED_AFTER_FIRST_CHECKPOINT = """
import signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal, even if a parent ignores it
from transformers import Trainer
marker = Path(sys.argv.pop(1))
save = Trainer._save_checkpoint
def save_then_wait(self, *args, **kw):
    save(self, *args, **kw)
    marker.touch()
    while True:
        time.sleep(0.1)
Trainer._save_checkpoint = save_then_wait
from assistant.cli import main
sys.exit(main(sys.argv[1:]))
"""


# The build under test, paused before the optimizer step after `at` steps (so a checkpoint saved
# at step `at` is on disk, and the steps since the last checkpoint are done but not saved).
PAUSED_AFTER_STEP = """
import sys, time
from pathlib import Path
from transformers import Trainer
marker, at = Path(sys.argv.pop(1)), int(sys.argv.pop(1))
step = Trainer.training_step
def wait_at_step(self, *args, **kw):
    if self.state.global_step >= at:
        marker.touch()
        while True:
            time.sleep(0.1)
    return step(self, *args, **kw)
Trainer.training_step = wait_at_step
from assistant.cli import main
sys.exit(main(sys.argv[1:]))
"""


def start_paused(script: str, cmd: list[str], marker: Path, *script_args: str) -> subprocess.Popen:
    """Start the build `cmd` under `script`; return once it has paused (its marker is on disk)."""
    proc = subprocess.Popen([cmd[0], "-c", script, str(marker), *script_args, *cmd[3:]], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hung = time.monotonic() + 600  # only stops a hung test; the build waits for the signal
    while not marker.exists():  # the build pauses there: no race with its end
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < hung, "the build did not reach its pause in 10 minutes"
        time.sleep(0.05)
    return proc


def losses(run: Path) -> list[tuple[int, float]]:
    """(step, train or validation loss) of each row of a build's history.json."""
    rows = json.loads((run / "ft" / "history.json").read_text())["history"]
    return [(r["step"], r.get("loss", r.get("val_loss"))) for r in rows]


def only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_llm_path):
    """The corpus, the adapter and the losses of one uninterrupted build."""
    tmp = tmp_path_factory.mktemp("reference")
    corpus = write_corpus(tmp / "corpus")
    ref = subprocess.run(build_cmd(corpus, tiny_llm_path, tmp / "runs"), env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert ref.returncode == 0, ref.stderr
    run = only_run(tmp / "runs")
    return corpus, load_file(str(run / "ft" / "adapter" / "adapter_model.safetensors")), losses(run)


def assert_same_adapter(run: Path, reference: dict) -> None:
    resumed = load_file(str(run / "ft" / "adapter" / "adapter_model.safetensors"))
    assert resumed.keys() == reference.keys()
    for name in reference:
        torch.testing.assert_close(resumed[name], reference[name], rtol=1e-5, atol=1e-6)


# SIGKILL (nothing to catch) is the three-point test below
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_killed_build_resumes_to_the_same_adapter(tmp_path, tiny_llm_path, reference, sig):
    corpus, reference, _ = reference
    env = ENV

    # the same build, killed once its first checkpoint is on disk
    out, marker = tmp_path / "killed", tmp_path / "checkpoint-saved"
    proc = start_paused(PAUSED_AFTER_FIRST_CHECKPOINT, build_cmd(corpus, tiny_llm_path, out), marker)
    assert list(out.glob("*/ft/checkpoints/checkpoint-*/trainer_state.json"))
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()  # never leave it looping
        raise
    assert proc.returncode != 0
    assert "Traceback" not in err
    run = only_run(out)
    assert not (run / "ft" / "adapter" / "adapter_model.safetensors").exists()  # nothing half-made passes as done
    # a signal we can catch leaves the stage marked, not "running"
    assert json.loads((run / "manifest.json").read_text())["stages"]["ft"]["status"] == "interrupted"

    # resume: same flags plus --run RUN --resume
    res = subprocess.run(build_cmd(corpus, tiny_llm_path, out, "--run", run.name, "--resume"), env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert_same_adapter(run, reference)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["ft"]["status"] == "done"


KILL_POINTS = {"after the first checkpoint": EVERY, "mid-epoch": 13, "just before the end": STEPS - 1}


@pytest.mark.parametrize("at", list(KILL_POINTS.values()), ids=list(KILL_POINTS))
def test_sigkilled_at_three_points_resumes_to_the_uninterrupted_losses(tmp_path, tiny_llm_path, reference, at):
    """Issue 18: SIGKILL (no handler runs) after `at` steps; then the README's command alone,
    `assistant build ft --run RUN --resume` (and where the runs are), continues from the last
    checkpoint, redoing the steps since, to the uninterrupted build's losses and adapter."""
    from assistant.runs import Run

    corpus, adapter, reference_losses = reference
    out, marker = tmp_path / "killed", tmp_path / "paused"
    proc = start_paused(PAUSED_AFTER_STEP, build_cmd(corpus, tiny_llm_path, out), marker, str(at))
    proc.kill()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and "Traceback" not in err
    run = only_run(out)
    assert not (run / "ft" / "adapter" / "adapter_model.safetensors").exists()
    assert Run.open(out, run.name).stage("ft")["status"] == "interrupted"  # its process is gone, not "running"

    res = subprocess.run([sys.executable, "-m", "assistant", "build", "ft", "--run", run.name, "--resume",
                          "--out", str(out), "--device", "cpu", "--json"], env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["resumed_from"] == f"checkpoint-{at // EVERY * EVERY}" and summary["steps"] == STEPS
    resumed_losses = losses(run)
    assert [step for step, _ in resumed_losses] == [step for step, _ in reference_losses]
    for (step, got), (_, want) in zip(resumed_losses, reference_losses):
        assert got == pytest.approx(want, abs=1e-3), step
    assert_same_adapter(run, adapter)
    assert Run.open(out, run.name).stage("ft")["status"] == "done"


def test_half_written_checkpoint_is_skipped(tmp_path):
    from assistant.finetune import _last_complete_checkpoint

    ckpts = tmp_path / "checkpoints"
    for step, state in ((10, '{"global_step": 10}'), (20, '{"global_st'), (30, None)):
        d = ckpts / f"checkpoint-{step}"
        d.mkdir(parents=True)
        if state is not None:
            (d / "trainer_state.json").write_text(state)
    assert _last_complete_checkpoint(ckpts) == str(ckpts / "checkpoint-10")
    assert sorted(p.name for p in ckpts.iterdir()) == ["checkpoint-10"]  # the half-written ones are gone
