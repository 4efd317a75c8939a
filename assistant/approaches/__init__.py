"""Every way of building an assistant, behind one contract.

As peft gives every tuner the same shape (config, layer, model), every approach here is the
same four things, in a module of its own:

  Config                 a pydantic model: every knob with its one default, bounds and
                         description; `QUICK` holds the quick profile's changes to the defaults
  build(run, corpus, config, *, device, precision, events, cancel, resume) -> facts
                         builds into the run folder (nothing for `base`)
  load(run, *, device, precision, max_new_tokens) -> Assistant
                         what the harness and the chat talk to
  facts(run, device) -> dict
                         what the report needs about its cost: build_s, size_mb, peak_memory_mb,
                         update_s, update_how, and the loss history if it trained

`REGISTRY` lists them in build order; the pipeline, the CLI (its flags come from the Configs),
the app (its form too) and the report loop over it. A new approach is one module and one
`register(...)` line below; `requires` names approaches whose artifacts it builds on (hybrid
trains on the RAG index's prompts, so rag is built first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pydantic import ValidationError

from ..config import ApproachConfig, NoConfig
from ..errors import UserError


@dataclass(frozen=True)
class Approach:
    name: str
    title: str  # for people: "Fine-tuning (LoRA)"
    summary: str  # one line: what is built, what it answers from
    Config: type[ApproachConfig]
    build: Callable[..., dict]
    load: Callable[..., Any]
    facts: Callable[..., dict]
    requires: tuple[str, ...] = ()
    builds: bool = True  # False: nothing to build (base), so no `assistant build NAME`
    trains: bool = False  # its build reports training losses (the app draws them)
    describe: Callable[[dict], list[str]] | None = None  # a build's summary in lines, for `assistant build`
    bound: bool = False  # an upper bound evaluated beside the others (oracle), never recommended


REGISTRY: dict[str, Approach] = {}


def register(approach: Approach) -> Approach:
    REGISTRY[approach.name] = approach
    return approach


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def get(name: str) -> Approach:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UserError(f"unknown approach '{name}': choose from {', '.join(REGISTRY)}", field="approaches") from None


def names() -> list[str]:
    return list(REGISTRY)


def build_order(wanted: list[str]) -> list[str]:
    """`wanted` and what they require, requirements first, in registry order."""
    need: set[str] = set()

    def add(name: str) -> None:
        if name not in need:
            need.add(name)
            for dep in get(name).requires:
                add(dep)

    for name in wanted:
        add(name)
    return [n for n in REGISTRY if n in need]


def make_config(name: str, values: dict | None = None, quick: bool = False) -> ApproachConfig:
    """The approach's Config from the profile and the given values (flags, TOML keys, the app's
    form; None means not given; keys of other approaches are ignored). A bad value is a UserError
    naming the setting, the same line wherever the value came from."""
    cls = get(name).Config
    given = {k: v for k, v in (values or {}).items() if k in cls.model_fields and v is not None}
    try:
        return cls.profile(quick, **given)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or name
        raise UserError(err["msg"].removeprefix("Value error, "), field=where.replace("_", "-")) from None


def config_fields(approach_names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every setting of the given approaches (all by default): name -> {approach: FieldInfo}."""
    out: dict[str, dict[str, Any]] = {}
    for name in approach_names or names():
        for key, info in get(name).Config.model_fields.items():
            out.setdefault(key, {})[name] = info
    return out


# Each registers itself; this is the build order (rag before ft: it is quick, so a person sees a
# result early; hybrid needs rag's index).
from . import base, rag, ft, hybrid, oracle  # noqa: E402

__all__ = ["Approach", "ApproachConfig", "NoConfig", "REGISTRY", "register", "unregister", "get", "names",
           "build_order", "make_config", "config_fields", "base", "rag", "ft", "hybrid", "oracle"]
