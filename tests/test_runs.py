"""Run folders, atomic writes and the registry (issue 7)."""
import contextlib
import json
import multiprocessing
import os
import re
import signal
import stat
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import files
from assistant.cli import main
from assistant.corpus import Corpus, Document, QAPair
from assistant.errors import UserError
from assistant.runs import Registry, Run


def _corpus(name="tiny"):
    return Corpus(name=name, title="t", documents=[Document("d1", "D1", "text")],
                  qa=[QAPair("q1", "Q?", "A.", ["d1"], "train")], system_prompt="Be brief.")


def test_run_manifest_and_registry(tmp_path):
    run = Run.create(tmp_path, corpus=_corpus(), config={"seed": 0}, approaches=["rag"], command="build rag")
    with run.running("rag"):
        pass
    again = Run.open(tmp_path, run.id)
    assert again.manifest["stages"]["rag"]["status"] == "done"
    assert again.manifest["corpus"]["fingerprint"] == _corpus().fingerprint
    assert "torch" in again.manifest["versions"]
    (row,) = Registry(tmp_path).list()
    assert row["id"] == run.id and row["stages"] == {"rag": "done"} and row["corpus"] == "tiny"


def test_failed_and_interrupted_stages_are_recorded(tmp_path):
    run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["ft"], command="build ft")
    with pytest.raises(RuntimeError):
        with run.running("ft"):
            raise RuntimeError("out of memory")
    assert run.stage("ft")["status"] == "failed" and run.stage("ft")["error"] == "out of memory"
    with pytest.raises(KeyboardInterrupt):
        with run.running("rag"):
            raise KeyboardInterrupt
    assert Registry(tmp_path).list()[0]["stages"] == {"ft": "failed", "rag": "interrupted"}


def test_open_unknown_or_damaged_run_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no run 'nope'"):
        Run.open(tmp_path, "nope")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    with pytest.raises(UserError, match="damaged manifest"):
        Run.open(tmp_path, "bad")


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path):
    target = tmp_path / "report.json"
    files.write_json(target, {"v": 1})

    def half_write(tmp: Path):
        tmp.write_text('{"v": 2, "trunc')
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    with pytest.raises(KeyboardInterrupt):
        files.write_with(target, half_write)
    assert files.read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def _record_many(out, prefix, n):
    for i in range(n):
        run = Run.create(out, corpus=_corpus(f"{prefix}{i}"), config={}, approaches=["base"], command="test")
        run.set_stage("eval", "done")


def test_two_processes_writing_the_registry_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), p, 15)) for p in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)  # only stops a hung test: two spawned interpreters import slowly on a loaded machine
        assert p.exitcode == 0, p.exitcode
    assert len(Registry(tmp_path).list()) == 30
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_registry_busy_at_once_is_retried_then_given_up_with_one_clear_error(tmp_path, monkeypatch):
    """SQLite sometimes answers "locked" without waiting (some WAL races): Registry retries
    (runs.BUSY_RETRIES) and, while it stays locked, raises one UserError that says busy."""
    import threading

    from assistant import runs

    Run.create(tmp_path, corpus=_corpus("x"), config={}, approaches=["base"], command="test")
    connect = sqlite3.connect
    monkeypatch.setattr(runs.sqlite3, "connect", lambda path, timeout=5.0: connect(path, timeout=0))  # no waiting
    holder = connect(tmp_path / "runs.sqlite", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.15, holder.rollback).start()
    Run.create(tmp_path, corpus=_corpus("y"), config={}, approaches=["base"], command="test")  # waited, then wrote
    assert len(Registry(tmp_path).list()) == 2

    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(runs, "BUSY_RETRIES", (0.01, None))
    with pytest.raises(UserError, match="busy"):
        Run.create(tmp_path, corpus=_corpus("z"), config={}, approaches=["base"], command="test")
    holder.rollback()
    holder.close()
    assert not list(tmp_path.glob("runs.sqlite.damaged-*"))  # busy is not damage: nothing set aside


def test_runs_cli_lists_and_shows(tmp_path, capsys):
    run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["rag"], command="build rag")
    run.set_stage("rag", "done", wall_s=1.5)
    assert main(["runs", "list", "--out", str(tmp_path)]) == 0
    assert run.id in capsys.readouterr().out
    assert main(["runs", "show", run.id, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "rag" in out and "done" in out and "1.5 s" in out
    assert main(["runs", "show", "missing", "--out", str(tmp_path)]) == 2
    assert "no run 'missing'" in capsys.readouterr().err


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_take_the_umask_like_a_plain_open(tmp_path, umask, mode):
    """A team shares a runs folder: manifests and reports are as readable as any file they make."""
    old = os.umask(umask)
    try:
        run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["rag"], command="build rag")
        files.write_json(run.path / "report.json", {"ok": True})
    finally:
        os.umask(old)
    for path in (run.path / "manifest.json", run.path / "report.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_a_corpus_name_cannot_put_a_run_outside_out(tmp_path):
    """Issue 18 item 4: `name = "../../../x/escape"` in corpus.toml wrote a run and a second
    runs.sqlite outside --out. The run id is made from a sanitised name; the manifest keeps the real one."""
    out = tmp_path / "a" / "b" / "runs"
    run = Run.create(out, corpus=_corpus("../../../x/escape"), config={}, approaches=["rag"], command="build rag")
    assert run.path.parent == out and re.fullmatch(r"\d{8}-\d{6}-x-escape-[0-9a-f]{4}", run.id), run.id
    assert run.manifest["corpus"]["name"] == "../../../x/escape"
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents]
    assert outside == []
    for name in ("/etc/passwd", "..", "", ".hidden", "a b\tc\nd", "é" * 300, "x" * 300, "../" * 50):
        other = Run.create(out, corpus=_corpus(name), config={}, approaches=["rag"], command="build rag")
        assert other.path.parent == out and not other.id.startswith(".") and len(other.id) <= 80, other.id
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", other.id), other.id
        assert Run.open(out, other.id).manifest["corpus"]["name"] == name
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_open_refuses_a_run_outside_out(tmp_path):
    out = tmp_path / "runs"
    inside = Run.create(out, corpus=_corpus(), config={}, approaches=["rag"], command="build rag")
    elsewhere = Run.create(tmp_path / "other", corpus=_corpus(), config={}, approaches=["rag"], command="build rag")
    assert Run.open(out, str(inside.path)).id == inside.id  # a folder under --out is fine
    for ref in (str(elsewhere.path), f"../other/{elsewhere.id}"):
        with pytest.raises(UserError, match="outside"):
            Run.open(out, ref)
    assert main(["runs", "show", f"../other/{elsewhere.id}", "--out", str(out)]) == 2


KILLED_WHILE_RUNNING = """
import os, signal, sys
from assistant.runs import Run
run = Run.open(sys.argv[1], sys.argv[2])
with run.running("ft"):
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_stage_reads_interrupted_not_running(tmp_path, capsys):
    """Issue 18 item 8: SIGKILL leaves no chance to mark the stage; a stage whose process is gone
    reads `interrupted` wherever it is read (the stage, runs list, runs show)."""
    run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["ft", "rag"], command="build ft")
    proc = subprocess.run([sys.executable, "-c", KILLED_WHILE_RUNNING, str(tmp_path), run.id], timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == -signal.SIGKILL
    assert files.read_json(run.path / "manifest.json")["stages"]["ft"]["status"] == "running"  # as the kill left it
    with Run.open(tmp_path, run.id).running("rag"):  # this process is alive: its stage is running
        assert Run.open(tmp_path, run.id).stage("ft")["status"] == "interrupted"
        assert Run.open(tmp_path, run.id).stage("rag")["status"] == "running"
        assert main(["runs", "list", "--json", "--out", str(tmp_path)]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["stages"] == {"ft": "interrupted", "rag": "running"}
        assert main(["runs", "list", "--out", str(tmp_path)]) == 0
        assert "ft:interrupted" in capsys.readouterr().out
        assert main(["runs", "show", run.id, "--out", str(tmp_path)]) == 0
        shown = capsys.readouterr().out
        assert re.search(r"ft\s+interrupted .*process \d+ .*ended", shown), shown


def test_two_writers_of_one_run_keep_each_others_stages(tmp_path):
    """Issue 18 item 2: two processes building into one run each hold the manifest they read; a
    save keeps the stages the other wrote since, instead of writing its old copy over them."""
    run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["ft", "rag"], command="build ft")
    ft, rag = Run.open(tmp_path, run.id), Run.open(tmp_path, run.id)
    ft.set_stage("ft", "running")
    rag.set_stage("rag", "done")
    ft.set_stage("ft", "done")
    assert {k: v["status"] for k, v in Run.open(tmp_path, run.id).manifest["stages"].items()} == {"ft": "done", "rag": "done"}
    assert Registry(tmp_path).list()[0]["stages"] == {"ft": "done", "rag": "done"}


def _small_corpus(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# Refunds\n\nRefunds are available within 30 days of purchase.\n")
    (root / "qa.jsonl").write_text("".join(json.dumps({"question": f"How long is the refund window {i}?",
                                                       "answer": "30 days", "doc_id": "a"}) + "\n" for i in range(12)))
    return root


def _bad_models(tmp: Path, good: Path) -> dict:
    """name -> (the folder or name given, which flag): each no model in its own way."""
    (tmp / "empty").mkdir()
    (tmp / "random").mkdir()
    (tmp / "random" / "model.safetensors").write_bytes(os.urandom(4096))
    import shutil

    shutil.copytree(good, tmp / "broken-weights")
    weights = tmp / "broken-weights" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-200])
    return {"missing path": (str(tmp / "no-such-model"), "--base-model"),
            "empty folder": (str(tmp / "empty"), "--base-model"),
            "random safetensors": (str(tmp / "random"), "--base-model"),
            "not a model name": ("not a model!", "--base-model"),
            "real config, broken weights": (str(tmp / "broken-weights"), "--base-model"),
            "embedding: empty folder": (str(tmp / "empty"), "--embedding-model"),
            "embedding: missing": (str(tmp / "no-such-embedder"), "--embedding-model")}


@pytest.mark.parametrize("approach", ["rag", "ft"])
def test_a_bad_model_leaves_no_run_behind(tmp_path, capsys, tiny_llm_path, tiny_embedder_path, approach):
    """Issue 18 item 6: each exits 2 with one line and leaves no run folder and no registry row."""
    corpus = _small_corpus(tmp_path / "corpus")
    for case, (model, flag) in _bad_models(tmp_path, tiny_llm_path).items():
        out = tmp_path / "runs" / case.replace(" ", "-").replace(":", "").replace(",", "")
        models = {"--base-model": str(tiny_llm_path), "--embedding-model": str(tiny_embedder_path), flag: model}
        argv = ["build", approach, "--corpus", str(corpus), "--out", str(out), "--device", "cpu",
                *[x for kv in models.items() for x in kv], "--max-steps", "1", "--probe-questions", "0"]
        if approach == "rag":
            argv = argv[:-4]
        assert main(argv) == 2, case
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("assistant: error:"), (case, err)  # no work began
        assert not out.exists() or [p.name for p in out.iterdir() if p.is_dir()] == [], case
        assert Registry(out).list() == [], case


@pytest.mark.parametrize("approach,setting", [("ft", ["--max-length", "16"]), ("rag", ["--chunk-tokens", "100000",
                                                                                     "--chunk-overlap", "8"])])
def test_a_setting_found_bad_once_work_began_leaves_no_run_behind(tmp_path, capsys, tiny_llm_path, tiny_embedder_path,
                                                                   approach, setting):
    corpus = _small_corpus(tmp_path / "corpus")
    out = tmp_path / "runs"
    extra = ["--max-steps", "1", "--probe-questions", "0"] if approach == "ft" else []
    assert main(["build", approach, "--corpus", str(corpus), "--out", str(out), "--device", "cpu", "--base-model",
                 str(tiny_llm_path), "--embedding-model", str(tiny_embedder_path), *setting, *extra]) == 2
    err = capsys.readouterr().err.strip()  # progress lines, then the one line of the error
    assert [line for line in err.splitlines() if not line.startswith("...")] == [err.splitlines()[-1]], err
    assert err.splitlines()[-1].startswith("assistant: error:") and "Traceback" not in err, err
    assert [p.name for p in out.iterdir() if p.is_dir()] == [] and Registry(out).list() == []


@pytest.mark.parametrize("content", ["{}", "[]", '{"id": "x", "stages": {}', ""])
def test_a_damaged_manifest_is_one_line_naming_it(tmp_path, capsys, content):
    """Issue 18 item 7: `{}`, `[]` or a truncated manifest.json: one line naming the file, exit 2."""
    run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["rag"], command="build rag")
    (run.path / "manifest.json").write_text(content)
    for argv in (["runs", "show", run.id], ["report", run.id], ["chat", run.id]):
        assert main([*argv, "--out", str(tmp_path)]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(run.path / "manifest.json") in err, err


@pytest.mark.parametrize("name", ["meta.json", "build.json", "answers.jsonl"])
def test_a_truncated_eval_record_is_one_line_naming_it(tmp_path, capsys, name):
    run = Run.create(tmp_path, corpus=_corpus(), config={}, approaches=["rag"], command="build rag")
    files.write_json(run.path / "eval" / "meta.json", {"device": "cpu"})
    (run.path / "eval" / name).write_text('{"device": "cp')
    assert main(["report", run.id, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(run.path / "eval" / name) in err, err


def test_config_naming_a_folder_is_one_line(tmp_path, capsys):
    assert main(["runs", "list", "--out", str(tmp_path), "--config", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "folder" in err, err


def _three_runs(out: Path) -> list[Run]:
    runs = [Run.create(out, corpus=_corpus(f"c{i}"), config={}, approaches=["rag"], command="build rag") for i in range(3)]
    with runs[0].running("rag"):
        pass
    return runs


DAMAGED_REGISTRIES = {
    "deleted": lambda p: p.unlink(),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:300]),
    "garbage": lambda p: p.write_bytes(os.urandom(8192)),
    "wrong schema": lambda p: (p.unlink(), sqlite3.connect(p).execute("CREATE TABLE runs (x INTEGER)").connection.commit()),
}


@pytest.mark.parametrize("damage", list(DAMAGED_REGISTRIES))
def test_a_lost_or_damaged_registry_is_made_again_from_the_manifests(tmp_path, capsys, damage):
    """Issue 18 items 7 and 8: `runs list`, `report` and every new build crashed on a damaged
    runs.sqlite (sqlite3.DatabaseError), and a deleted one listed "no runs" beside the run folders."""
    runs = _three_runs(tmp_path)
    registry = tmp_path / "runs.sqlite"
    with contextlib.closing(sqlite3.connect(registry)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, as a copy would be
    for extra in ("-wal", "-shm"):
        registry.with_name(registry.name + extra).unlink(missing_ok=True)
    DAMAGED_REGISTRIES[damage](registry)
    assert main(["runs", "list", "--json", "--out", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["id"] for r in rows) == sorted(r.id for r in runs)
    assert {r["id"]: r["stages"] for r in rows}[runs[0].id] == {"rag": "done"}
    assert damage == "deleted" or len(list(tmp_path.glob("runs.sqlite.damaged-*"))) == 1  # set aside, not lost
    Run.create(tmp_path, corpus=_corpus("c3"), config={}, approaches=["rag"], command="build rag")  # builds work too
    assert len(Registry(tmp_path).list()) == 4


def test_a_registry_that_is_a_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "runs.sqlite").mkdir()
    assert main(["runs", "list", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "runs.sqlite" in err, err


def test_a_run_whose_manifest_was_deleted_is_not_listed_as_if_it_existed(tmp_path, capsys):
    """Issue 18 item 8: it was listed as any other run, while `runs show` said there was no such run."""
    runs = _three_runs(tmp_path)
    (runs[1].path / "manifest.json").unlink()
    import shutil

    shutil.rmtree(runs[2].path)
    assert main(["runs", "list", "--out", str(tmp_path)]) == 0
    listed = capsys.readouterr().out
    assert runs[2].id not in listed  # gone altogether: not listed
    (line,) = [x for x in listed.splitlines() if runs[1].id in x]
    assert "DAMAGED" in line and "manifest.json" in line
    assert main(["runs", "show", runs[1].id, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "damaged run" in err and str(runs[1].path / "manifest.json") in err
