import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tiny_models import make_tiny_embedder, make_tiny_llm  # noqa: E402


@pytest.fixture(scope="session")
def tiny_llm_path(tmp_path_factory):
    """Folder of a tiny random Llama with a ChatML tokenizer (loads with load_llm(path))."""
    return make_tiny_llm(tmp_path_factory.mktemp("tiny-llm") / "model")


@pytest.fixture(scope="session")
def tiny_embedder_path(tmp_path_factory):
    """Folder of a tiny random sentence-transformers model (loads with load_embedder(path))."""
    return make_tiny_embedder(tmp_path_factory.mktemp("tiny-embedder") / "model")


@pytest.fixture(scope="session")
def tiny_llm(tiny_llm_path):
    from assistant.llm import load_llm

    return load_llm(str(tiny_llm_path), device="cpu", precision="fp32")  # the same figures on every CPU


@pytest.fixture(scope="session")
def tiny_embedder(tiny_embedder_path):
    from assistant.embed import load_embedder

    return load_embedder(str(tiny_embedder_path), device="cpu")


@pytest.fixture
def scripted(monkeypatch):
    """`scripted(make)`: every registered approach builds nothing and loads `make(name)` (a
    scripted assistant, no model), for tests of the pipeline and the harness around them."""
    import dataclasses

    from assistant import approaches as registry

    def script(make):
        for name in registry.names():
            approach = dataclasses.replace(registry.get(name), build=lambda *a, **kw: {},
                                           load=lambda run, _name=name, **kw: make(_name))
            monkeypatch.setitem(registry.REGISTRY, name, approach)

    return script
