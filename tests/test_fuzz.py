"""Property-based: malformed corpora, config files and command lines get one clean error line
(exit 2), never a traceback, and leave no partial run behind (issue 7)."""
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.cli import main
from assistant.corpus import load_corpus
from assistant.errors import UserError

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
                           max_leaves=6)
qa_fields = ["id", "question", "answer", "doc_id", "doc_ids", "split", "kind", "fact_id", "answer_type",
             "answer_aliases", "instruction", "input", "output", "conversations", "messages"]
qa_objects = st.dictionaries(st.sampled_from(qa_fields), json_values, max_size=6)
qa_lines = st.one_of(qa_objects.map(json.dumps), st.text(max_size=40), json_values.map(json.dumps))
raw_bytes = st.binary(max_size=80)


def _write_corpus(root, qa: list[str], doc: bytes, toml: str):
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "a.md").write_bytes(doc)
    (root / "qa.jsonl").write_text("\n".join(qa), encoding="utf-8")
    (root / "corpus.toml").write_text(toml, encoding="utf-8")


def _clean_exit(capsys, fn):
    """Run fn(); it must return 0 or 2 (or argparse's SystemExit 2) with no traceback printed."""
    try:
        code = fn()
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        lines = [line for line in err.strip().splitlines() if line.startswith("assistant")]
        assert lines, err  # a line naming the problem
    return code


@FUZZ
@given(qa=st.lists(qa_lines, max_size=6), doc=raw_bytes, toml=st.text(max_size=40))
def test_malformed_corpus_is_a_user_error_or_loads(tmp_path_factory, qa, doc, toml):
    root = tmp_path_factory.mktemp("corpus")
    _write_corpus(root, qa, doc, toml)
    try:
        corpus = load_corpus(root)
    except UserError as e:
        assert str(e)  # one line naming the problem
        assert "\n" not in str(e)
        return
    for pair in corpus.qa:  # whatever loads is usable
        assert isinstance(pair.question, str) and isinstance(pair.answer, str)
        assert pair.question.strip() and pair.answer.strip()


@FUZZ
@given(text=st.text(max_size=80) | st.sampled_from(["out = 3", "nope = 1", "[x]\ny=1", "out = \"", "json = 'yes'"]))
def test_malformed_config_file(tmp_path_factory, capsys, text):
    d = tmp_path_factory.mktemp("cfg")
    cfg = d / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    _clean_exit(capsys, lambda: main(["runs", "list", "--out", str(d / "runs"), "--config", str(cfg)]))


commands = st.sampled_from([["runs", "list"], ["runs", "show"], ["corpus", "check"], ["build", "rag"], ["build", "ft"],
                            ["build", "hybrid"], ["compare"], ["eval"], ["report"], ["chat"], ["export"], ["frobnicate"]])
flags = st.sampled_from(["--corpus", "--out", "--config", "--approaches", "--top-k", "--retrieval", "--rank",
                         "--epochs", "--device", "--probes", "--run", "--approach", "--json", "--quick", "-x"])
words = st.text(alphabet=string.ascii_letters + string.digits + "-_./", max_size=12)


@FUZZ
@given(cmd=commands, rest=st.lists(st.one_of(flags, words), max_size=6))
def test_random_command_lines(tmp_path_factory, capsys, cmd, rest):
    d = tmp_path_factory.mktemp("cli")
    bad = d / "bad-corpus"
    _write_corpus(bad, ['{"question": "only a question"}'], b"", 'name = "bad"')
    # any corpus, domain or model named is broken or missing, so no real work can start
    argv = cmd + [str(bad) if w == "CORPUS" else w for w in rest] + ["--out", str(d / "runs")]
    if "--device" in argv:
        argv += ["--device", "cpu"]
    argv += ["--corpus", str(bad)] if cmd[0] in ("build", "compare") else []
    argv += ["--base-model", str(d / "no-model")] if cmd[0] in ("build", "compare", "chat", "eval") else []
    _clean_exit(capsys, lambda: main(argv))
    runs = d / "runs"
    leftovers = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
    assert leftovers == []  # nothing half-made


def test_config_keys_mirror_flags_and_flags_win(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'out = "{tmp_path / "from-config"}"\njson = true\n')
    assert main(["runs", "list", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # json from the file
    assert main(["runs", "list", "--config", str(cfg), "--out", str(tmp_path / "flag")]) == 0
    assert not (tmp_path / "from-config").exists()


def test_config_errors_name_file_and_line(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('out = "runs"\nbogus_key = 1\n')
    assert main(["runs", "list", "--config", str(cfg)]) == 2
    assert f"{cfg}: unknown key 'bogus_key'" in capsys.readouterr().err
    cfg.write_text('out = "runs"\nout2 = \n')
    assert main(["runs", "list", "--config", str(cfg)]) == 2
    assert f"{cfg}:2: not valid TOML" in capsys.readouterr().err


@pytest.mark.parametrize("text,message", [('out = 3\njson = "yes"', "'json' must be true or false"),
                                          ("out = [1, 2]", "'out' must be a single value"),
                                          ("device = 'tpu'", "not one of")])
def test_config_values_are_checked_like_flags(tmp_path, capsys, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    argv = ["models", "--config", str(cfg)] if "device" in text else ["runs", "list", "--config", str(cfg)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
