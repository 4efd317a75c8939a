"""The `assistant` command. One argparse parser; each command is a small handler in a module of
its own (build, evaluate, chat, info) that calls into the module doing the work. The settings
flags of `build` and `compare` are made from the approaches' Configs (options.config_options), so
a new approach brings its flags with it. Every command takes `--config FILE` (TOML, keys mirror
the long flags with `-` or `_`); flags given on the command line win over the file.

A user's mistake (UserError) prints one line and exits 2; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ..errors import UserError
from .build import cmd_build, cmd_export
from .chat import cmd_chat
from .evaluate import cmd_compare, cmd_eval, cmd_report
from .info import cmd_corpus_check, cmd_models, cmd_runs_list, cmd_runs_show, cmd_tui
from .options import common, config_options, device_options, load_config, opt


def build_parser() -> argparse.ArgumentParser:
    from .. import approaches as registry

    parser = argparse.ArgumentParser(prog="assistant", description="Build a domain assistant two ways (LoRA "
                                     "fine-tuning and FAISS + BM25 retrieval), score both with one harness, recommend "
                                     "one, and chat with it. With no command: the terminal app.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="show which base and embedding models resolve, and load them")
    common(p)
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("runs", help="the runs in the registry")
    runs = p.add_subparsers(dest="runs_command", metavar="list|show", required=True)
    r = runs.add_parser("list", help="list the runs (newest first)")
    common(r, models=False, out=True)
    r.set_defaults(handler=cmd_runs_list)
    r = runs.add_parser("show", help="one run's manifest: models, stages, timings")
    r.add_argument("run", metavar="RUN", help="run id or folder")
    common(r, models=False, out=True)
    r.set_defaults(handler=cmd_runs_show)

    p = sub.add_parser("tui", help="the terminal app (also: assistant with no arguments)")
    common(p, models=False, out=True)
    device_options(p)
    p.set_defaults(handler=cmd_tui)

    p = sub.add_parser("build", help="build one approach into a run")
    build = p.add_subparsers(dest="approach", metavar="APPROACH", required=True)
    for name in registry.names():
        approach = registry.get(name)
        if not approach.builds:
            continue
        b = build.add_parser(name, help=approach.summary)
        common(b, out=True, corpus=True)
        opt(b, "--run", metavar="RUN", help="add to this existing run instead of starting a new one")
        opt(b, "--quick", action="store_true", help="the quick profile (demo, CI)")
        opt(b, "--resume", action="store_true", help="continue an interrupted build from its last checkpoint "
                                                      "(with --run RUN)")
        config_options(b, registry.build_order([name]))
        b.set_defaults(handler=cmd_build)
    rag = build.choices["rag"]
    opt(rag, "--add", metavar="PATH", help="add (or replace) documents in --run's index: a .md/.txt file, a folder, "
                                           "or docs.jsonl")
    opt(rag, "--remove", metavar="DOC_ID", help="remove a document from --run's index")

    p = sub.add_parser("chat", help="ask a run's assistant (one question per line when piped)")
    p.add_argument("run", metavar="RUN", help="run id or folder")
    common(p, models=False, out=True)
    opt(p, "--approach", default="rag", choices=registry.names(), help="which assistant (default rag)")
    device_options(p)
    opt(p, "--max-new-tokens", type=int, default=128, metavar="N", help="answer length limit (default 128)")
    opt(p, "--top-k", type=int, metavar="K", help="sources per question (default: the index's)")
    opt(p, "--retrieval", choices=["dense", "bm25", "hybrid"], help="retrieval mode (default: the index's)")
    p.set_defaults(handler=cmd_chat)

    p = sub.add_parser("corpus", help="check a corpus: counts, formats, warnings, errors")
    corpus_cmds = p.add_subparsers(dest="corpus_command", metavar="check", required=True)
    c = corpus_cmds.add_parser("check", help="load and validate a corpus; exit 2 on the first error")
    c.add_argument("paths", nargs="*", metavar="PATH", help="a corpus folder, or files: docs.jsonl and a Q&A file")
    common(c, models=False, corpus=True)
    c.set_defaults(handler=cmd_corpus_check)

    p = sub.add_parser("export", help="merge a run's LoRA adapter into the base model: a plain transformers folder")
    p.add_argument("run", metavar="RUN", help="run id or folder")
    common(p, models=False, out=True)
    opt(p, "--merge", metavar="OUT", required=True, help="the folder to write (must not exist or be empty)")
    # its own dest: the defaults are keyed by dest, and chat's --approach defaults to rag
    p.add_argument("--approach", dest="export_approach", choices=["ft", "hybrid"], default="ft",
                   help="which adapter (default ft)")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("compare", help="build every approach, evaluate them with one harness, recommend one")
    common(p, out=True, corpus=True)
    opt(p, "--approaches", metavar="LIST", help=f"comma-separated: {','.join(registry.names())} (default base,ft,rag)")
    opt(p, "--probes", metavar="PATH", help="BBQ-format bias probes (default: the corpus's probes.jsonl)")
    opt(p, "--quick", action="store_true", help="quick profile: a stratified test subset and short fine-tuning")
    opt(p, "--judge", metavar="MODEL", help="a local LLM judge for ragas' LLM metrics (faithfulness, answer correctness)")
    config_options(p, registry.names())
    p.set_defaults(handler=cmd_compare)
    for name, handler, helptext in (("eval", cmd_eval, "re-evaluate a run's built approaches and rewrite its reports"),
                                    ("report", cmd_report, "regenerate a run's reports from its records (no models)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("run", metavar="RUN", help="run id or folder")
        common(p, models=name == "eval", out=True)
        if name == "eval":
            opt(p, "--approaches", metavar="LIST", help="which approaches (default: every built one)")
            opt(p, "--probes", metavar="PATH", help="BBQ-format bias probes (default: the corpus's probes.jsonl)")
            opt(p, "--quick", action="store_true", help="the quick test subset")
            opt(p, "--judge", metavar="MODEL", help="a local LLM judge for ragas' LLM metrics (faithfulness, answer "
                                                    "correctness)")
        p.set_defaults(handler=handler)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    from ..hub import default_offline

    default_offline()  # nothing is downloaded unless a hub model is named
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = sys.argv[1:] if argv is None else argv
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) stops a build like Ctrl-C: stages are marked interrupted, checkpoints kept
        signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser()
    args = parser.parse_args(argv or ["tui"])
    try:
        load_config(args)
        from ..hub import quiet_libraries

        quiet_libraries()
        return int(args.handler(args) or 0)
    except UserError as e:
        print(f"assistant: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("assistant: interrupted", file=sys.stderr)
        return 130


__all__ = ["main", "build_parser"]
