"""The approach registry: one contract for every way of building an assistant.

A new approach is one module and one `register(...)` line: the pipeline, the CLI, the app and
the report pick it up. Each default is written once, in its Config.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from assistant import approaches as registry
from assistant.assistants import Answer
from assistant.config import NoConfig

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            out.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_two_builders_do_not_import_each_other():
    """Hybrid composes them from its own module; neither knows the other."""
    lora, index = ROOT / "assistant" / "finetune.py", ROOT / "assistant" / "rag.py"
    assert not {m for m in imported_modules(lora) if m.endswith("rag")}, imported_modules(lora)
    assert not {m for m in imported_modules(index) if m.endswith("finetune")}, imported_modules(index)
    hybrid = imported_modules(ROOT / "assistant" / "approaches" / "hybrid.py")
    assert {"..finetune", "..rag"} <= hybrid


def test_build_order_puts_requirements_first():
    assert registry.build_order(["hybrid"]) == ["rag", "hybrid"]
    assert registry.build_order(["ft", "base"]) == ["base", "ft"]
    with pytest.raises(Exception, match="unknown approach 'nope'"):
        registry.build_order(["nope"])


# -- a throwaway approach, registered from inside the test -----------------------------------------
@dataclasses.dataclass
class Echo:
    """Answers every question with the question itself."""

    name: str = "echo"

    def answer(self, questions):
        return [Answer(q, [], 0.0) for q in questions]

    def option_scores(self, questions, options):
        return [[-float(i) for i in range(len(opts))] for opts in options]


class EchoConfig(NoConfig):
    greeting: str = "hi"


@pytest.fixture
def echo():
    built = []
    approach = registry.Approach(
        "echo", "Echo", "repeats the question", EchoConfig,
        build=lambda run, corpus, config, **kw: built.append(run.id) or {"echoed": True},
        load=lambda run, **kw: Echo(),
        facts=lambda run, device="auto": {"build_s": 0.0, "size_mb": 0.0, "update_s": 0.0, "update_how": "nothing"})
    registry.register(approach)
    yield built
    registry.unregister("echo")


def test_a_new_approach_is_built_evaluated_and_reported_with_no_other_code(tmp_path, monkeypatch, echo, scripted,
                                                                          tiny_embedder):
    """compare, the report and the CLI see a registered module; nothing else is touched."""
    import assistant.embed as embed_mod
    from assistant import pipeline
    from assistant.cli import build_parser
    from test_harness import Oracle, corpus

    c = corpus()
    real = registry.get("echo")
    scripted(lambda name: Oracle(name, c, know=False))  # base answers without a model
    monkeypatch.setitem(registry.REGISTRY, "echo", real)
    monkeypatch.setattr(embed_mod, "load_embedder", lambda name, device="auto": tiny_embedder)
    seen = []
    run = pipeline.compare(c, tmp_path / "runs", ["base", "echo"], quick=True, precision="fp32", events=seen.append)
    assert echo == [run.id]  # built once, through the pipeline
    report = __import__("json").loads((run.path / "report.json").read_text())
    assert report["approaches"] == ["base", "echo"] and report["accuracy"]["echo"]["overall"]["n"] == 5
    assert "echo" in (run.path / "report.md").read_text()
    assert report["cost"]["echo"]["update_s"] == 0.0
    # the CLI offers it: `assistant build echo` and its setting as a flag
    args = build_parser().parse_args(["build", "echo", "--domain", "support", "--greeting", "hello"])
    assert args.approach == "echo" and args.greeting == "hello"
    # the harness reported the evaluation as Events: one step per approach done, never by message text
    steps = [(e.step, e.total) for e in seen if e.stage == "eval"]
    assert steps[0] == (0, 2) and (1, 2) in steps and max(s for s, _ in steps) == 1


# -- each default defined once ------------------------------------------------------------------
def _cli_help(approach_names):
    import argparse

    from assistant.cli.options import config_options

    parser = argparse.ArgumentParser()
    config_options(parser, approach_names)
    return {a.dest: a.help for a in parser._actions if a.help}


@pytest.mark.parametrize("name", [n for n in registry.names() if registry.get(n).builds])
def test_every_setting_shows_its_config_default_in_the_cli_and_round_trips_through_toml(name, tmp_path):
    from assistant.cli import main
    from assistant.cli.options import default_text

    cls = registry.get(name).Config
    helps = _cli_help([name])
    for key, info in cls.model_fields.items():
        shown = default_text(key, [name])
        assert helps[key].endswith(shown), (key, helps[key])
        default = cls.default_of(key)
        assert f"(default {'none' if default is None else default}" in shown
    # TOML: every field written out at its default gives the default Config back
    lines = []
    for key, info in cls.model_fields.items():
        value = cls.default_of(key)
        if value is not None:
            lines.append(f"{key} = {json.dumps(value)}")  # TOML's scalars and arrays are JSON's
    cfg = tmp_path / "settings.toml"
    cfg.write_text("\n".join(lines) + "\n")
    seen = {}

    def capture(args):
        seen.update(vars(args))
        return 0

    import assistant.cli as cli

    parser = cli.build_parser()
    args = parser.parse_args(["build", name, "--domain", "support", "--config", str(cfg)])
    args.handler = capture
    from assistant.cli.options import load_config

    load_config(args)
    assert registry.make_config(name, vars(args)) == cls()
    assert main(["build", name, "--domain", "support", "--config", str(tmp_path / "missing.toml")]) == 2


def test_the_app_form_shows_the_config_defaults_of_each_profile():
    """The Home form's fields are the FORM-marked Config fields, filled from the same defaults."""
    from assistant.app.screens.home import FORM_FIELDS, _text

    for key, (owner, info) in FORM_FIELDS.items():
        assert (info.json_schema_extra or {}).get("form")
        cls = registry.get(owner).Config
        assert _text(cls.default_of(key)) == _text(cls.model_fields[key].default)
    assert {"rank", "epochs", "max_steps", "top_k", "chunk_tokens", "retrieval"} <= set(FORM_FIELDS)


def test_a_bad_setting_is_the_same_one_line_error_from_flags_toml_and_the_app(tmp_path, capsys):
    from assistant.cli import main
    from assistant.errors import UserError

    assert main(["build", "rag", "--domain", "support", "--top-k", "0", "--out", str(tmp_path / "runs")]) == 2
    flag = capsys.readouterr().err.strip()
    (tmp_path / "c.toml").write_text("top_k = 0\n")
    assert main(["build", "rag", "--domain", "support", "--config", str(tmp_path / "c.toml"),
                 "--out", str(tmp_path / "runs")]) == 2
    toml = capsys.readouterr().err.strip()
    with pytest.raises(UserError) as app:
        registry.make_config("rag", {"top_k": 0})  # what the app's form runs
    assert flag == toml == f"assistant: error: {app.value}" and "top-k" in flag
    assert not (tmp_path / "runs").exists()  # nothing half-made
