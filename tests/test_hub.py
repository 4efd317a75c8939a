"""A Hugging Face hub id on a machine that cannot fetch it fails at once, in one line (issue 18
item 9: it printed 23 lines of the hub client's retries over 48-74 s). Nothing is downloaded
here: the ids are not cached, and the hub is either switched off (HF_HUB_OFFLINE) or a local
socket that never answers."""
import json
import socket
import time

import pytest

from assistant import hub
from assistant.cli import main
from assistant.errors import UserError

NOT_CACHED = "nobody-here/no-such-model"


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# A\n\nThe refund window is 30 days.\n")
    (root / "corpus.toml").write_text('name = "tiny"\n')
    rows = [{"question": f"How long is refund window {i}?", "answer": f"{i} days.", "split": split}
            for i, split in enumerate(["train"] * 8 + ["val", "val", "test", "test"])]
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture
def silent_hub(monkeypatch):
    """The hub's endpoint is a local socket that accepts and never answers; the user did not set
    HF_HUB_OFFLINE."""
    from huggingface_hub import constants

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_user_offline", None, raising=False)
    hub.hub_reachable.cache_clear()
    yield
    hub.hub_reachable.cache_clear()
    server.close()


def one_line_at_once(capsys, argv, out):
    t0 = time.perf_counter()
    code = main(argv)
    took = time.perf_counter() - t0
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert took < 10, took
    assert not out.exists()  # checked before a run is made
    return err


@pytest.mark.parametrize("flag,what", [("--base-model", "base model"), ("--embedding-model", "embedding model")])
def test_hf_hub_offline_and_not_cached_is_one_line_at_once(corpus, tmp_path, capsys, monkeypatch, flag, what):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_user_offline", None, raising=False)
    out = tmp_path / "runs"
    err = one_line_at_once(capsys, ["build", "rag" if "embedding" in flag else "ft", "--corpus", str(corpus),
                                    flag, NOT_CACHED, "--out", str(out), "--json"], out)
    assert err == (f"assistant: error: HF_HUB_OFFLINE is set and {what} '{NOT_CACHED}' is not in the Hugging Face "
                   f"cache: give a local folder or the embedded default")


@pytest.mark.parametrize("flag,what", [("--base-model", "base model"), ("--embedding-model", "embedding model")])
def test_a_hub_that_does_not_answer_is_one_line_after_one_short_try(corpus, tmp_path, capsys, silent_hub, flag,
                                                                     what):
    out = tmp_path / "runs"
    t0 = time.perf_counter()
    err = one_line_at_once(capsys, ["build", "rag" if "embedding" in flag else "ft", "--corpus", str(corpus),
                                    flag, NOT_CACHED, "--out", str(out), "--json"], out)
    assert time.perf_counter() - t0 >= hub.HUB_TIMEOUT_S - 0.5, err  # it did wait for the one try, no longer
    assert err == (f"assistant: error: cannot reach the Hugging Face hub to fetch {what} '{NOT_CACHED}' "
                   f"(offline?): give a local folder or the embedded default")


def test_an_unreachable_hub_is_asked_once_per_process(silent_hub, monkeypatch):
    from assistant.llm import resolve_base_model

    for _ in range(2):
        with pytest.raises(UserError, match="cannot reach the Hugging Face hub"):
            resolve_base_model(NOT_CACHED)
    assert hub.hub_reachable.cache_info().misses == 1


def test_a_cached_hub_model_resolves_offline(tmp_path, monkeypatch):
    """A hub model already in the cache needs no hub: with HF_HUB_OFFLINE it resolves and stays offline."""
    from huggingface_hub import constants

    from assistant.llm import resolve_base_model

    snapshot = tmp_path / "hub" / "models--someone--cached-model"
    (snapshot / "snapshots" / "abc123").mkdir(parents=True)
    (snapshot / "snapshots" / "abc123" / "config.json").write_text("{}")
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text("abc123")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub, "_user_offline", None, raising=False)
    source = resolve_base_model("someone/cached-model")
    assert source.kind == "hub" and source.path == "someone/cached-model"
    assert constants.HF_HUB_OFFLINE is True


def test_a_hub_that_answers_is_used(monkeypatch):
    """The positive side: the hub answers, so a hub id resolves with HF_HUB_OFFLINE lifted (nothing
    is fetched here: resolving loads no files)."""
    import http.server
    import threading

    from huggingface_hub import constants

    from assistant.llm import resolve_base_model

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(hub, "_user_offline", None, raising=False)
        hub.hub_reachable.cache_clear()
        assert resolve_base_model(NOT_CACHED).kind == "hub"
        assert constants.HF_HUB_OFFLINE is False
    finally:
        hub.set_offline(True)
        hub.hub_reachable.cache_clear()
        server.shutdown()
