"""Pilot tests of the terminal app: each screen flow, driven like a person would, on tiny models.

The builds are real (a LoRA adapter trained on the tiny LLM, a FAISS + BM25 index with the tiny
embedder), the chat answers are really generated; only the models are tiny.
"""
from __future__ import annotations

import json
from pathlib import Path


from assistant.app.app import AssistantApp
from assistant.app import backend

DOCS = {
    "refunds": ("Refunds", "# Refunds\n\nRefunds are available within 30 days of purchase. "
                "Contact support with your order number to request one."),
    "pricing": ("Pricing", "# Pricing\n\nAvalon Drive costs $12 per user per month on the team plan. "
                "The free plan has 5 GB of storage."),
    "errors": ("Error codes", "# Error codes\n\nError AV-1042 means the upload was too large. "
               "Split the file or upgrade your plan."),
}
QA = [
    ("How long do I have to ask for a refund?", "30 days", "refunds"),
    ("What does Avalon Drive cost?", "$12 per user per month", "pricing"),
    ("What does error AV-1042 mean?", "The upload was too large.", "errors"),
    ("How much storage does the free plan have?", "5 GB", "pricing"),
    ("What do I need to request a refund?", "Your order number", "refunds"),
    ("How do I fix error AV-1042?", "Split the file or upgrade your plan.", "errors"),
]


def write_tiny_corpus(root: Path) -> Path:
    """A three-document support corpus with train, val and test pairs of each kind."""
    (root / "docs").mkdir(parents=True)
    (root / "corpus.toml").write_text('name = "tiny"\ntitle = "Tiny support"\nsystem_prompt = "Answer briefly."\n')
    for doc_id, (title, text) in DOCS.items():
        (root / "docs" / f"{doc_id}.md").write_text(f"---\nid: {doc_id}\ntitle: {title}\n---\n{text}\n")
    rows = []
    rows += [{"id": f"t{i}", "question": q, "answer": a, "doc_id": d, "split": "train"} for i, (q, a, d) in enumerate(QA)]
    rows += [{"id": f"v{i}", "question": f"Quick question: {q}", "answer": a, "doc_id": d, "split": "val"}
             for i, (q, a, d) in enumerate(QA[:2])]
    rows += [{"id": "p0", "question": "Within how many days can I get a refund?", "answer": "30 days", "doc_id": "refunds",
              "split": "test", "kind": "paraphrase"},
             {"id": "u0", "question": "What happens on the team plan price?", "answer": "$12 per user per month",
              "doc_id": "pricing", "split": "test", "kind": "unseen"}]
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def run_async(test):
    """Run an async test with asyncio.run (no pytest-asyncio needed); fixtures still resolve."""
    import asyncio
    import functools

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return wrapper


async def wait_for(pilot, condition, timeout: float = 600.0, step: float = 0.1):
    """Let the app run until `condition()` holds (workers run in threads meanwhile). The timeout
    only stops a hung test; no condition here depends on how fast the machine is."""
    import time

    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
        await pilot.pause(step)


async def settle(pilot) -> None:
    """Wait until every worker (a build, an evaluation, a chat answer) has finished, however long
    the machine takes: a worker's UI updates run before it ends (call_from_thread blocks)."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def choose_folder(pilot, app, path: str) -> None:
    from textual.widgets import Input, RadioSet

    await pilot.click("#src-folder")
    assert not app.screen.query_one("#corpus-path", Input).disabled
    app.screen.query_one("#corpus-path", Input).focus()
    await pilot.press(*path, "enter")
    await wait_for(pilot, lambda: "documents" in str(app.screen.query_one("#corpus-summary").render()))
    assert app.screen.query_one("#source", RadioSet).pressed_button.name == "folder"


def use_tiny_models(screen, llm_path, embedder_path, **settings) -> None:
    """Point the Home form at the tiny models and set settings by their Config names (max_steps="10")."""
    from textual.widgets import Input

    screen.query_one("#base-model", Input).value = str(llm_path)
    screen.query_one("#embedding-model", Input).value = str(embedder_path)
    for key, value in {"chunk_tokens": "64", **settings}.items():  # the tiny embedder reads 128 tokens
        screen.query_one(f"#set-{key}", Input).value = value


@run_async
async def test_home_shows_domains_check_and_missing_parts(tmp_path):
    """Home: the shipped domains, a corpus folder's counts, a bad folder's one-line error."""
    corpus = write_tiny_corpus(tmp_path / "corpus")
    app = AssistantApp(out=str(tmp_path / "runs"), precision="fp32")
    async with app.run_test(size=(100, 32)) as pilot:
        from textual.widgets import Checkbox, RadioSet

        assert [b.name for b in app.screen.query_one("#source", RadioSet).query("RadioButton")] == \
            ["support", "legal", "medical", "folder"]
        await choose_folder(pilot, app, str(corpus))
        summary = str(app.screen.query_one("#corpus-summary").render())
        assert "3 documents" in summary and "10 Q&A pairs: train 6, val 2, test 2" in summary
        assert app.screen.corpus_ok
        # every approach can be picked; the quick profile picks ft and rag
        assert {name: (app.screen.query_one(f"#ap-{name}", Checkbox).disabled,
                       app.screen.query_one(f"#ap-{name}", Checkbox).value) for name in ("ft", "rag", "hybrid")} == \
            {"ft": (False, True), "rag": (False, True), "hybrid": (False, False)}
        # a folder that is not a corpus: the loader's one-line error, and no build
        app.screen.query_one("#corpus-path").value = ""
        await pilot.press(*str(tmp_path / "nowhere"), "enter")
        await wait_for(pilot, lambda: "✗" in str(app.screen.query_one("#corpus-summary").render()))
        assert not app.screen.corpus_ok
        await pilot.press("b")
        await pilot.pause()
        assert type(app.screen).__name__ == "HomeScreen"
        # help opens and closes
        await pilot.press("f1")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert type(app.screen).__name__ == "HomeScreen"


@run_async
async def test_build_then_chat_with_sources(tmp_path, tiny_llm_path, tiny_embedder_path, monkeypatch):
    """Choose a corpus, build ft and rag (quick), see progress and the loss curve, then chat:
    the rag answer streams in with its sources; compare shows every approach side by side."""
    from textual.widgets import DataTable, Input, ProgressBar, Select

    from assistant.app.screens.build import BuildScreen
    from assistant.runs import Registry

    bar = []  # the evaluation bar as it moved: (progress, total)
    real_eval = BuildScreen._eval

    def spy(screen, state, done=None, total=None):
        real_eval(screen, state, done, total)
        if total is not None:
            progress = screen.query_one("#eval-bar", ProgressBar)
            bar.append((progress.progress, progress.total))

    monkeypatch.setattr(BuildScreen, "_eval", spy)
    corpus = write_tiny_corpus(tmp_path / "corpus")
    app = AssistantApp(out=str(tmp_path / "runs"), precision="fp32", device="cpu")
    async with app.run_test(size=(100, 32)) as pilot:
        await choose_folder(pilot, app, str(corpus))
        # a validation loss at step 10 (quick: every 10)
        use_tiny_models(app.screen, tiny_llm_path, tiny_embedder_path, rank="4", max_steps="10")
        await pilot.click("#build")
        await wait_for(pilot, lambda: type(app.screen).__name__ != "HomeScreen")
        build = app.screen
        assert type(build).__name__ == "BuildScreen"
        await settle(pilot)  # builds and evaluation; then the Results screen replaces the Build screen
        assert build.finished
        # the evaluation bar moved one step per approach evaluated (base, rag, ft), from the harness's events
        steps = [done for done, total in bar if total == 3]
        assert steps == sorted(steps) and {0, 1, 2} <= set(steps) and bar[-1] == (1, 1), bar
        rag, ft = build.panels["rag"], build.panels["ft"]
        assert (rag.outcome, ft.outcome) == ("done", "done"), build.current_run.manifest["stages"]
        plot = ft.loss_plot
        assert len(plot.train) == 10 and plot.val, "the loss plot got train and val points"
        run = build.current_run
        assert (run.path / "ft" / "history.json").exists() and (run.path / "rag" / "index.faiss").exists()
        assert run.manifest["models"]["base"]["name"] == str(tiny_llm_path)
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ResultsScreen")
        results = app.screen
        await wait_for(pilot, lambda: results.query("#rec"))
        report = json.loads((run.path / "report.json").read_text())
        winner = report["recommendation"]["winner"]
        assert f"Recommended: {winner}" in str(results.query_one("#rec").render())
        accuracy = results.query_one("#metrics").query("DataTable").first()
        assert [accuracy.get_row_at(i)[0] for i in range(accuracy.row_count)] == report["approaches"]
        assert str((run.path / "report.html").resolve()) in str(results.query_one("#results-head").render())
        await pilot.press("c")  # chat with the winner
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ChatScreen")
        assert app.screen.query_one("#approach", Select).value == winner
        await pilot.press("escape")
        # Home lists the run; c opens its chat
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HomeScreen")
        assert [r["id"] for r in Registry(app.out).list()] == [run.id]
        app.screen.action_refresh_runs()
        assert app.screen.query_one("#runs", DataTable).row_count == 1
        app.screen.query_one("#runs", DataTable).focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ChatScreen")
        chat = app.screen
        assert chat.approaches == ["base", "rag", "ft"]  # the registry order
        chat.query_one("#approach", Select).value = "rag"
        chat.query_one("#question", Input).focus()
        await pilot.press(*"What does error AV-1042 mean?", "enter")
        await settle(pilot)
        assert not chat.busy
        turn = chat.query("Turn").last()
        assert turn.box("rag").text and turn.box("rag").pieces > 1, "the answer streamed in, piece by piece"
        sources = chat.query_one("#sources", DataTable)
        assert sources.row_count >= 1
        score, approach, _, _ = sources.get_row_at(0)  # score first: a narrow screen cuts the title
        assert (approach, score) == ("rag", f"{chat.contexts[0][1].score:.3f}")
        assert {c.doc_id for _, c in chat.contexts} <= set(DOCS)
        assert "chunk" in str(chat.query_one("#source-text").render())
        # compare: one question, every approach's answer side by side
        chat.query_one("#approach", Select).value = "compare"
        chat.query_one("#question", Input).focus()
        await pilot.press(*"How long do refunds take?", "enter")
        await settle(pilot)
        assert not chat.busy
        turn = chat.query("Turn").last()
        assert [b.border_title for b in turn.query("AnswerBox")] == ["base", "rag", "ft"]
        assert all(turn.box(a).pieces for a in ("base", "ft", "rag"))
        assert len(app.chat_history[run.id]) == 2  # kept for the session


@run_async
async def test_cancel_stops_a_build(tmp_path, tiny_llm_path, tiny_embedder_path):
    """x cancels: the running builder stops, the rest never start, nothing is evaluated."""

    corpus = write_tiny_corpus(tmp_path / "corpus")
    app = AssistantApp(out=str(tmp_path / "runs"), precision="fp32", device="cpu")
    async with app.run_test(size=(80, 24)) as pilot:
        await choose_folder(pilot, app, str(corpus))
        use_tiny_models(app.screen, tiny_llm_path, tiny_embedder_path, max_steps="5000")  # still training when x arrives
        app.screen.query_one("#runs").focus()  # b in an Input would be typed, not a key binding
        await pilot.press("b")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BuildScreen")
        build = app.screen
        ft_state = build.panels["ft"].query_one(".state")
        await wait_for(pilot, lambda: "training" in str(ft_state.render()))  # rag built, ft under way
        await pilot.press("x")
        await settle(pilot)
        assert build.finished
        assert {a: p.outcome for a, p in build.panels.items()} == {"rag": "done", "ft": "cancelled"}
        assert build.current_run.stage("ft")["status"] == "interrupted"
        assert "cancelled" in str(build.query_one("#eval-state").render())
        await pilot.press("escape")
        assert type(app.screen).__name__ == "HomeScreen"


@run_async
async def test_cancel_stops_the_evaluation(tmp_path, tiny_llm_path, tiny_embedder_path, monkeypatch):
    """x during the evaluation stops it at the harness's next step: stage interrupted, no report."""
    from textual.widgets import Checkbox

    real_evaluate = backend.evaluate

    def evaluate_held_at_first_step(run, corpus, settings, built, events, cancel=None):
        def held(event):  # the harness waits at its first step on base until the person presses x
            events(event)
            if event.phase == "base":
                assert cancel.wait(600), "x never came"  # the bound only stops a hung test
        return real_evaluate(run, corpus, settings, built, held, cancel)

    monkeypatch.setattr(backend, "evaluate", evaluate_held_at_first_step)
    corpus = write_tiny_corpus(tmp_path / "corpus")
    app = AssistantApp(out=str(tmp_path / "runs"), precision="fp32", device="cpu")
    async with app.run_test(size=(80, 24)) as pilot:
        await choose_folder(pilot, app, str(corpus))
        use_tiny_models(app.screen, tiny_llm_path, tiny_embedder_path)
        app.screen.query_one("#ap-ft", Checkbox).value = False
        app.screen.query_one("#runs").focus()
        await pilot.press("b")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BuildScreen")
        build = app.screen
        await wait_for(pilot, lambda: "evaluating: base" in str(build.query_one("#eval-state").render()))
        await pilot.press("x")
        await settle(pilot)
        assert build.finished
        assert "cancelled" in str(build.query_one("#eval-state").render())
        assert build.current_run.stage("rag")["status"] == "done"
        assert build.current_run.stage("eval")["status"] == "interrupted"
        assert not (Path(build.current_run.path) / "report.json").exists()
        assert type(app.screen).__name__ == "BuildScreen"  # no results to open
