"""The `assistant` command. One argparse parser; each command is a small handler that calls
into the module that does the work. Every command takes `--config FILE` (TOML, keys mirror the
long flags with `-` or `_`); flags given on the command line win over the file.

A user's mistake (UserError) prints one line and exits 2; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
from pathlib import Path

from .errors import UserError

# Real defaults live here, not in argparse, so that "given on the command line" (not None)
# can be told apart from "left to the config file or the default".
_DEFAULTS: dict[str, object] = {}
_ACTIONS: dict[str, argparse.Action] = {}  # dest -> action, to check config values like flags


def _opt(parser, *flags, default=None, **kw):
    action = parser.add_argument(*flags, default=None, **kw)
    if default is not None:
        _DEFAULTS[action.dest] = default
    _ACTIONS[action.dest] = action
    return action


def _config_value(action: argparse.Action | None, value, key: str, path: Path):
    """Check a config value the way argparse checks the flag (type, choices, on/off flags)."""
    if action is None:
        return value
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
        if not isinstance(value, bool):
            raise UserError(f"'{key}' must be true or false", path=path)
        return value
    if isinstance(value, (dict, list)) or value is None:
        raise UserError(f"'{key}' must be a single value", path=path)
    if isinstance(value, bool):
        raise UserError(f"'{key}' must be a value, not true/false", path=path)
    try:
        value = action.type(str(value)) if action.type else str(value)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise UserError(f"'{key}': invalid value {value!r}", path=path) from None
    if action.choices and value not in action.choices:
        raise UserError(f"'{key}': {value!r} is not one of {', '.join(map(str, action.choices))}", path=path)
    return value


def _common(p, *, models: bool = True, out: bool = False, corpus: bool = False):
    p.add_argument("--config", metavar="FILE", help="TOML file whose keys mirror the flags (flags win)")
    _opt(p, "--json", action="store_true", help="print machine-readable results")
    if corpus:
        g = p.add_mutually_exclusive_group()
        _opt(g, "--domain", help="a shipped domain: legal, medical or support")
        _opt(g, "--corpus", metavar="PATH", help="a corpus folder (see docs/corpus-format.md)")
    if models:
        _opt(p, "--base-model", default=None, help="embedded default, a local folder or a Hugging Face id")
        _opt(p, "--embedding-model", default=None, help="embedded default, a local folder or a sentence-transformers id")
        _opt(p, "--device", default="auto", choices=["auto", "cpu", "cuda"])
        _opt(p, "--trust-remote-code", action="store_true", help="allow model code from the hub (off by default)")
    if out:
        _opt(p, "--out", default="runs", metavar="DIR", help="the folder that holds the runs (default ./runs)")


def _load_config(args) -> None:
    """Fill arguments not given on the command line from --config, then from the defaults."""
    path = getattr(args, "config", None)
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError("no such config file", path=p) from None
        except UnicodeDecodeError as e:
            raise UserError(f"not UTF-8 text (byte {e.start})", path=p) from None
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+)", str(e))
            raise UserError(f"not valid TOML: {str(e).split(' (at ')[0]}", path=p, line=int(m.group(1)) if m else None) from None
        for key, value in data.items():
            dest = key.replace("-", "_")
            if not hasattr(args, dest) or dest in ("config", "handler", "command"):
                raise UserError(f"unknown key '{key}' for this command", path=p)
            if getattr(args, dest) is None:
                setattr(args, dest, _config_value(_ACTIONS.get(dest), value, key, p))
    for dest, value in _DEFAULTS.items():
        if hasattr(args, dest) and getattr(args, dest) is None:
            setattr(args, dest, value)


def _print(args, human: str, data) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else human)


# -- assistant models ----------------------------------------------------------------------
def cmd_models(args) -> int:
    from .embed import load_embedder
    from .llm import load_llm

    llm = load_llm(args.base_model, device=args.device, trust_remote_code=args.trust_remote_code)
    emb = load_embedder(args.embedding_model, device=args.device, trust_remote_code=args.trust_remote_code)
    rows = [
        {"role": "base model", "name": llm.source.name, "from": llm.source.describe(), "params": llm.n_params,
         "load_s": round(llm.load_s, 2), "device": llm.device},
        {"role": "embedding model", "name": emb.source.name, "from": emb.source.describe(), "params": emb.n_params,
         "load_s": round(emb.load_s, 2), "dim": emb.dim},
    ]
    human = "\n".join(f"{r['role']:<16} {r['name']}\n{'':<16} from {r['from']}\n{'':<16} "
                      f"{r['params'] / 1e6:.1f}M parameters, loaded in {r['load_s']:.2f} s" for r in rows)
    _print(args, human, rows)
    return 0


# -- assistant runs list|show -------------------------------------------------------------  owner: runs (issue 7)
def cmd_runs_list(args) -> int:
    from .runs import Registry

    rows = Registry(args.out).list()
    if args.json:
        _print(args, "", rows)
        return 0
    if not rows:
        print(f"no runs in {args.out}")
        return 0
    print(f"{'run':<34} {'command':<14} {'corpus':<10} {'stages':<40} recommendation")
    for r in rows:
        stages = " ".join(f"{k}:{v}" for k, v in (r["stages"] or {}).items())
        rec = r["recommendation"] or {}
        winner = rec.get("winner") if isinstance(rec, dict) else rec
        print(f"{r['id']:<34} {r['command']:<14} {r['corpus']:<10} {stages:<40} {winner or '-'}")
    return 0


def cmd_runs_show(args) -> int:
    from .runs import Run

    run = Run.open(args.out, args.run)
    m = run.manifest
    if args.json:
        _print(args, "", m)
        return 0
    print(f"run        {m['id']}  ({run.path})")
    print(f"command    {m.get('command', '')}   created {m['created']}")
    print(f"corpus     {m['corpus']['name']}  fingerprint {m['corpus']['fingerprint']}  "
          f"{m['corpus']['documents']} documents, {m['corpus']['qa']} pairs")
    for role, info in m.get("models", {}).items():
        print(f"{role + ' model':<10} {info.get('name') or 'default'}  {info.get('path', '')}")
    for name, st in m.get("stages", {}).items():
        extra = f"  {st['wall_s']} s" if "wall_s" in st else ""
        err = f"  ({st['error']})" if st.get("error") else ""
        print(f"stage      {name:<8} {st['status']}{extra}{err}")
    rec = m.get("recommendation")
    if rec:
        print(f"recommends {rec.get('winner') if isinstance(rec, dict) else rec}")
    return 0


# -- assistant tui -------------------------------------------------------------------------
def cmd_tui(args) -> int:
    from .app.app import AssistantApp

    AssistantApp(out=args.out).run()
    return 0


# -- assistant build ft|rag|hybrid ----------------------------------------------------------
def _run_for_build(args, approach: str):
    """The run a build writes into: `--run RUN` (add to an existing run) or a new one."""
    from .corpus import resolve_corpus
    from .runs import Run

    if getattr(args, "run", None):
        return Run.open(args.out, args.run), None
    corpus = resolve_corpus(args.domain, args.corpus)
    run = Run.create(args.out, corpus=corpus, config={k: v for k, v in vars(args).items() if k != "handler"},
                     approaches=[approach], command=f"build {approach}", base_model=args.base_model,
                     embedding_model=args.embedding_model)
    return run, corpus


def _ft_options(p) -> None:  # owner: fine-tuning builder (issue 4); also used by compare
    pass


def _rag_options(p) -> None:  # owner: RAG builder (issue 5); also used by compare
    pass


def cmd_build_ft(args) -> int:  # owner: fine-tuning builder (issue 4)
    raise UserError("assistant build ft is not available yet")


def cmd_build_rag(args) -> int:  # owner: RAG builder (issue 5)
    raise UserError("assistant build rag is not available yet")


def cmd_build_hybrid(args) -> int:  # owner: hybrid builder (issue 9)
    raise UserError("assistant build hybrid is not available yet")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="show which base and embedding models resolve, and load them")
    _common(p)
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("runs", help="the runs in the registry")
    runs = p.add_subparsers(dest="runs_command", metavar="list|show", required=True)
    r = runs.add_parser("list", help="list the runs (newest first)")
    _common(r, models=False, out=True)
    r.set_defaults(handler=cmd_runs_list)
    r = runs.add_parser("show", help="one run's manifest: models, stages, timings")
    r.add_argument("run", metavar="RUN", help="run id or folder")
    _common(r, models=False, out=True)
    r.set_defaults(handler=cmd_runs_show)

    p = sub.add_parser("tui", help="the terminal app (also: assistant with no arguments)")
    _common(p, models=False, out=True)
    p.set_defaults(handler=cmd_tui)

    p = sub.add_parser("build", help="build one approach into a run")
    build = p.add_subparsers(dest="approach", metavar="APPROACH", required=True)
    for name, handler, helptext in (("ft", cmd_build_ft, "LoRA fine-tuning on the Q&A pairs"),
                                    ("rag", cmd_build_rag, "FAISS + BM25 index over the documents"),
                                    ("hybrid", cmd_build_hybrid, "LoRA on retrieval-augmented prompts (RAFT)")):
        b = build.add_parser(name, help=helptext)
        _common(b, out=True, corpus=True)
        _opt(b, "--run", metavar="RUN", help="add to this existing run instead of starting a new one")
        _opt(b, "--quick", action="store_true", help="the quick profile (demo, CI)")
        b.set_defaults(handler=handler)
        if name in ("ft", "hybrid"):
            _ft_options(b)
        if name in ("rag", "hybrid"):
            _rag_options(b)

    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded unless a hub model is named
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv or ["tui"])
    try:
        _load_config(args)
        from .hub import quiet_libraries

        quiet_libraries()
        return int(args.handler(args) or 0)
    except UserError as e:
        print(f"assistant: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("assistant: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
