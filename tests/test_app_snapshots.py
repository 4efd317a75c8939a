"""Snapshot tests of the app's main screens (pytest-textual-snapshot; `--snapshot-update` to accept).

Content is kept deterministic: a corpus at a relative path, an empty run folder, the tiny
random model answering greedily, no timings or run ids on screen.
"""
from __future__ import annotations

from test_app import choose_folder, wait_for, write_tiny_corpus

from assistant.app.app import AssistantApp


def test_home_80x24(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_tiny_corpus(tmp_path / "corpus")

    async def pick_corpus(pilot):
        await choose_folder(pilot, pilot.app, "corpus")
        pilot.app.screen.query_one("#build").focus()

    assert snap_compare(AssistantApp(out="runs", precision="fp32"), terminal_size=(80, 24), run_before=pick_corpus)


def test_help_80x24(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert snap_compare(AssistantApp(out="runs", precision="fp32"), press=["f1"], terminal_size=(80, 24))


def test_chat_100x32(snap_compare, tmp_path, monkeypatch, tiny_llm_path):
    """A question to the base model: the streamed answer, and why there are no sources."""
    from assistant.corpus import load_corpus
    from assistant.runs import Run

    monkeypatch.chdir(tmp_path)
    corpus = load_corpus(write_tiny_corpus(tmp_path / "corpus"))
    run = Run.create("runs", corpus=corpus, config={}, approaches=["base"], command="test", base_model=str(tiny_llm_path))
    app = AssistantApp(out="runs", precision="fp32", device="cpu")

    async def ask(pilot):
        pilot.app.open_chat(run)
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ChatScreen")
        await wait_for(pilot, lambda: pilot.app.focused is not None and pilot.app.focused.id == "question")
        await pilot.press(*"How long do I have to ask for a refund?", "enter")
        await wait_for(pilot, lambda: not pilot.app.screen.busy and pilot.app.screen.query("Turn"))
        pilot.app.set_focus(None)  # no blinking cursor in the picture: its phase depends on timing
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 32), run_before=ask)


def test_results_80x24(snap_compare, tmp_path, monkeypatch, tiny_embedder):
    """The verdict of a report made by the real harness on scripted assistants (fixed content)."""
    from test_harness import Oracle, corpus

    from assistant.files import write_json
    from assistant.runs import Run
    from evals.harness import EvalConfig, Harness
    from evals.report import build_report

    monkeypatch.chdir(tmp_path)
    c = corpus()
    harness = Harness(c, tmp_path / "eval", EvalConfig(), embedder=tiny_embedder)
    harness.evaluate(Oracle("rag", c))
    harness.evaluate(Oracle("base", c, know=False))
    harness.write()
    manifest = {"id": "snapshot-run", "corpus": {"name": "fake"}, "approaches": ["base", "rag"], "stages": {}}
    run = Run(tmp_path / "runs" / "snapshot-run", manifest)  # a fixed id: no clock on screen
    write_json(run.path / "report.json", build_report(tmp_path / "eval", manifest))

    async def open_results(pilot):
        pilot.app.open_results(run)
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "ResultsScreen")
        await pilot.pause()

    assert snap_compare(AssistantApp(out="runs", precision="fp32"), terminal_size=(80, 24), run_before=open_results)
