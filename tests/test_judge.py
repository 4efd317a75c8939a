"""The opt-in LLM judge: the local ragas LLM adapter, scoring through ragas' real metric code,
answers the judge could not score, and --judge through the pipeline."""
import json
import re
from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from assistant.llm import Generation
from evals.harness import EvalConfig, Harness
from evals.judge import (RETRY_INSTRUCTION, JudgeOutputError, LocalJudgeLLM, parse_json_object,
                         score_records)
from evals.report import build_report, render_html, render_markdown
from test_harness import Oracle, corpus


class Statements(BaseModel):
    statements: list[str]


def test_parse_finds_the_first_object_that_fits():
    text = 'Sure. {"note": 1} then ```json\n{"statements": ["a", "b"]}\n``` done {"statements": ["c"]}'
    assert parse_json_object(text, Statements).statements == ["a", "b"]
    with pytest.raises(JudgeOutputError, match="no JSON object"):
        parse_json_object("no braces here", Statements)
    with pytest.raises(JudgeOutputError, match="does not fit Statements"):
        parse_json_object('{"statements": 3}', Statements)


def test_adapter_retries_once_with_a_stricter_primed_prompt(tiny_llm, monkeypatch):
    prompts = []
    replies = iter(["I think the answer is fine.", '"statements": ["x is y"]}'])

    def fake_generate(batch, max_new_tokens=64, batch_size=8):
        prompts.extend(batch)
        return [Generation(next(replies), 0.0, 1)]

    monkeypatch.setattr(tiny_llm, "generate", fake_generate)
    judge = LocalJudgeLLM(tiny_llm, max_new_tokens=8)
    assert judge.generate("Split it.", Statements).statements == ["x is y"]
    assert len(prompts) == 2 and RETRY_INSTRUCTION.strip() in prompts[1] and prompts[1].endswith("{")
    assert judge.generate("Split it.", Statements).statements == ["x is y"] and len(prompts) == 2  # cached

    replies = iter(["nothing", "still nothing"])
    with pytest.raises(JudgeOutputError, match="after a retry"):
        judge.generate("Another prompt.", Statements)
    assert len(prompts) == 4


class FixedJudgeModel:
    """Stands in for assistant.llm.LLM: replies with fixed valid JSON (chosen by which ragas
    prompt it sees), so the adapter's parsing and ragas' own metric arithmetic are what run."""

    model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=None))
    source = SimpleNamespace(name="fixed")

    def __init__(self):
        self.calls = 0

    def tokenizer(self, text, add_special_tokens=False):
        return {"input_ids": text.split()}

    def chat_prompt(self, user, system=None):
        return user

    def generate(self, prompts, max_new_tokens=64, batch_size=8):
        self.calls += 1
        p = prompts[0]
        if "judge the faithfulness" in p:  # two statements, one supported by the context
            out = {"statements": [{"statement": "s1", "reason": "in the context", "verdict": 1},
                                  {"statement": "s2", "reason": "not in the context", "verdict": 0}]}
        elif "TP (true positive)" in p:  # one true and one false positive, nothing missed
            out = {"TP": [{"statement": "s1", "reason": "r"}], "FP": [{"statement": "s2", "reason": "r"}], "FN": []}
        else:  # statement generation
            out = {"statements": ["s1", "s2"]}
        return [Generation("Here you go: " + json.dumps(out), 0.0, 1)]


def _judged_report(tmp_path, judge_llm, judge_name):
    c = corpus()
    h = Harness(c, tmp_path / "eval", EvalConfig(quick=True, judge=judge_name))
    for ap in ("base", "rag"):
        h.evaluate(Oracle(ap, c, know=True))
    h.judge(judge_llm)
    h.write()
    return build_report(tmp_path / "eval", {"id": "r1", "approaches": ["base", "rag"]})


def test_fixed_judge_gives_ragas_numbers_through_harness_and_report(tmp_path):
    model = FixedJudgeModel()
    report = _judged_report(tmp_path, LocalJudgeLLM(model), "fixed-judge")
    rag, base = report["accuracy"]["rag"]["judge"], report["accuracy"]["base"]["judge"]
    # faithfulness = 1 of 2 statements supported; correctness = F1 with TP=1, FP=1, FN=0 = 2/3
    assert rag["judge_faithfulness"]["value"] == pytest.approx(0.5)
    assert rag["judge_faithfulness"]["n"] == 4  # the unanswerable item retrieved nothing
    assert rag["judge_answer_correctness"]["value"] == pytest.approx(2 / 3)
    assert rag["judge_answer_correctness"]["n"] == 5 and rag["judge_answer_correctness"]["not_scored"] == 0
    assert base["judge_faithfulness"]["n"] == 0 and "not applicable" in base["judge_faithfulness"]["reason"]
    assert base["judge_answer_correctness"]["value"] == pytest.approx(2 / 3)
    assert report["run"]["judge"] == "fixed-judge"
    md = render_markdown(report)
    assert "judge correctness" in md and "0.667 [0.667, 0.667] (n=5)" in md and "Judge: fixed-judge" in md
    assert "No LLM judge" not in md


def test_a_judge_without_json_leaves_answers_not_scored_with_the_reason(tmp_path, tiny_llm, monkeypatch):
    # room for the ragas prompts in the tiny model's context, so its random replies are what fails
    monkeypatch.setattr(tiny_llm.model.config, "max_position_embeddings", 4096)
    report = _judged_report(tmp_path, LocalJudgeLLM(tiny_llm, max_new_tokens=4), "tiny-random")
    fig = report["accuracy"]["rag"]["judge"]["judge_answer_correctness"]
    assert fig["value"] is None and fig["n"] == 0 and fig["not_scored"] == 5
    assert any("no JSON object" in reason and "after a retry" in reason for reason in fig["not_scored_reasons"])
    md = render_markdown(report)
    assert "rag, judge_answer_correctness: 5 answers not scored (0 scored)" in md
    assert "not run (the judge could not score any of 5 answers); 5 not scored" in md
    assert not re.search(r"\bnan\b", md.lower())  # no NaN figure anywhere
    assert "5 answers not scored" in render_html(report)
    assert any("could not score" in c for c in report["recommendation"]["caveats"])  # said where it is read
    records = [json.loads(line) for line in (tmp_path / "eval" / "answers.jsonl").read_text().splitlines()]
    judged = [r for r in records if r["split"] == "test"]
    assert all(r["scores"]["judge_answer_correctness"] is None and r["judge_not_scored"] for r in judged)


def test_a_prompt_longer_than_the_judge_context_is_not_scored(tiny_llm):
    rec = {"question": "What does Avalon Drive cost?", "answer": "$12 per user per month.",
           "reference": "$12 per user per month", "contexts": [{"text": "Avalon Drive costs $12. " * 40}]}
    out = score_records([rec], LocalJudgeLLM(tiny_llm, max_new_tokens=4))  # tiny context: 1024 tokens
    assert out["judge_faithfulness"][0][0] is None and "does not fit the judge's context" in out["judge_faithfulness"][0][1]


def test_compare_with_judge_runs_the_judge(tmp_path, monkeypatch, tiny_embedder, tiny_llm_path, scripted):
    from assistant import pipeline
    from assistant.errors import UserError
    import assistant.embed as embed_mod
    import evals.judge as judge_mod

    c = corpus()
    scripted(lambda name: Oracle(name, c))
    monkeypatch.setattr(embed_mod, "load_embedder", lambda name, device="auto": tiny_embedder)
    real_load = judge_mod.load_judge
    monkeypatch.setattr(judge_mod, "load_judge", lambda name, **kw: real_load(name, "cpu", max_new_tokens=4, precision="fp32"))
    run = pipeline.compare(c, tmp_path / "runs", ["base", "rag"], quick=True, judge=str(tiny_llm_path), precision="fp32")
    report = json.loads((run.path / "report.json").read_text())
    assert report["run"]["judge"] == str(tiny_llm_path)
    fig = report["accuracy"]["rag"]["judge"]["judge_answer_correctness"]
    assert fig["not_scored"] == 5 and fig["value"] is None  # the tiny random judge scores nothing, and says why
    with pytest.raises(UserError, match="--judge"):
        pipeline.compare(c, tmp_path / "runs2", ["base"], judge=str(tmp_path / "no-such-model"))
    assert not (tmp_path / "runs2").exists() or not any((tmp_path / "runs2").iterdir())
