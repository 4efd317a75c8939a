"""Kill a build mid-way (a real subprocess and a real signal) and show that `--resume` ends
with the same adapter as an uninterrupted build (issue 7)."""
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


def build_cmd(corpus, model, out, *extra):
    return [sys.executable, "-m", "assistant", "build", "ft", "--corpus", str(corpus), "--base-model", str(model),
            "--out", str(out), "--device", "cpu", "--rank", "4", "--alpha", "8", "--max-steps", "60",
            "--eval-steps", "10", "--patience", "100", "--batch-size", "2", "--max-length", "64",
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


def only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_llm_path):
    """The corpus and the adapter of one uninterrupted build."""
    tmp = tmp_path_factory.mktemp("reference")
    corpus = write_corpus(tmp / "corpus")
    ref = subprocess.run(build_cmd(corpus, tiny_llm_path, tmp / "runs"), env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert ref.returncode == 0, ref.stderr
    return corpus, load_file(str(only_run(tmp / "runs") / "ft" / "adapter" / "adapter_model.safetensors"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["ctrl-c", "term", "kill"])
def test_killed_build_resumes_to_the_same_adapter(tmp_path, tiny_llm_path, reference, sig):
    corpus, reference = reference
    env = ENV

    # the same build, killed once its first checkpoint is on disk
    out, marker = tmp_path / "killed", tmp_path / "checkpoint-saved"
    cmd = build_cmd(corpus, tiny_llm_path, out)
    proc = subprocess.Popen([cmd[0], "-c", PAUSED_AFTER_FIRST_CHECKPOINT, str(marker), *cmd[3:]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    hung = time.monotonic() + 600  # only stops a hung test; the build waits for the signal
    while not marker.exists():  # the build pauses there: no race with its end
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < hung, "no checkpoint after 10 minutes"
        time.sleep(0.05)
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
    if sig != signal.SIGKILL:  # a signal we can catch leaves the stage marked, not "running"
        assert json.loads((run / "manifest.json").read_text())["stages"]["ft"]["status"] == "interrupted"

    # resume: same flags plus --run RUN --resume
    res = subprocess.run(build_cmd(corpus, tiny_llm_path, out, "--run", run.name, "--resume"), env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    resumed = load_file(str(run / "ft" / "adapter" / "adapter_model.safetensors"))
    assert resumed.keys() == reference.keys()
    for name in reference:
        torch.testing.assert_close(resumed[name], reference[name], rtol=1e-5, atol=1e-6)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stages"]["ft"]["status"] == "done"


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
