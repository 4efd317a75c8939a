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
import signal
import sys
import threading
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


def _device_options(p) -> None:
    from .llm import DEFAULT_PRECISION, PRECISIONS

    _opt(p, "--device", default="auto", choices=["auto", "cpu", "cuda"])
    _opt(p, "--precision", default=DEFAULT_PRECISION, choices=PRECISIONS,
         help=f"auto: bf16 where the hardware runs it natively, else fp32; fp32 reproduces a run on any CPU "
              f"(default {DEFAULT_PRECISION})")


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
        _device_options(p)
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

    llm = load_llm(args.base_model, device=args.device, trust_remote_code=args.trust_remote_code,
                   precision=args.precision)
    emb = load_embedder(args.embedding_model, device=args.device, trust_remote_code=args.trust_remote_code)
    rows = [
        {"role": "base model", "name": llm.source.name, "from": llm.source.describe(), "params": llm.n_params,
         "load_s": round(llm.load_s, 2), "device": llm.device,
         "precision": llm.precision},
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

    AssistantApp(out=args.out, device=args.device, precision=args.precision).run()
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
    from .finetune import FinetuneConfig

    d, q = FinetuneConfig(), FinetuneConfig.quick()  # one place for the defaults

    def h(text, name):
        return f"{text} (default {getattr(d, name)}; --quick: {getattr(q, name)})"

    _opt(p, "--rank", type=int, metavar="R", help=h("LoRA rank", "rank"))
    _opt(p, "--alpha", type=int, metavar="A", help=h("LoRA alpha", "alpha"))
    _opt(p, "--dropout", type=float, metavar="P", help=h("LoRA dropout", "dropout"))
    _opt(p, "--target-modules", metavar="NAMES", type=lambda s: s if s == "all-linear" else s.split(","),
         help=h("'all-linear' or comma-separated module names", "target_modules"))
    _opt(p, "--epochs", type=float, metavar="N", help=h("training epochs", "epochs"))
    _opt(p, "--max-steps", type=int, metavar="N", help=h("stop after N optimizer steps (overrides --epochs)", "max_steps"))
    _opt(p, "--learning-rate", type=float, metavar="LR", help=h("peak learning rate", "learning_rate"))
    _opt(p, "--lr-scheduler", metavar="NAME", help=h("linear, cosine, constant, ...", "lr_scheduler"))
    _opt(p, "--warmup-ratio", type=float, metavar="F", help=h("share of steps warming up", "warmup_ratio"))
    _opt(p, "--batch-size", type=int, metavar="N", help=h("examples per device per micro-batch", "batch_size"))
    _opt(p, "--grad-accum", type=int, metavar="N", help=h("micro-batches per optimizer step", "grad_accum"))
    _opt(p, "--max-length", type=int, metavar="N", help=h("tokens per example", "max_length"))
    _opt(p, "--seed", type=int, help=h("random seed", "seed"))
    _opt(p, "--eval-steps", type=int, metavar="N", help=h("validation loss and a checkpoint every N steps", "eval_steps"))
    _opt(p, "--patience", type=int, metavar="N", help=h("early stopping: evaluations without improvement", "patience"))
    _opt(p, "--probe-questions", type=int, metavar="N", help=h("training questions probed on the base model first (0: skip)", "probe_questions"))
    _opt(p, "--resume", action="store_true", help="continue an interrupted build from its last checkpoint (with --run RUN)")
    _opt(p, "--gold-share", type=float, metavar="F",
         help="hybrid: share of training prompts whose sources include the gold document (default 0.8)")


def _corpus_of_run(args, run):  # owner: fine-tuning builder (issue 4)
    """The corpus a build adds to an existing run: --domain/--corpus if given, else the run's own; it
    must be the version the run was made for."""
    from .corpus import load_corpus, resolve_corpus

    root = run.manifest.get("corpus", {}).get("root")
    corpus = resolve_corpus(args.domain, args.corpus) if (args.domain or args.corpus) else load_corpus(root or ".")
    if corpus.fingerprint != run.manifest["corpus"]["fingerprint"]:
        raise UserError(f"run {run.id} was made for another version of corpus '{run.manifest['corpus']['name']}' "
                        f"(fingerprint {run.manifest['corpus']['fingerprint']}, now {corpus.fingerprint}): start a new run")
    return corpus


def _shared_run_for_build(args, approach: str):  # owner: fine-tuning builder (issue 4)
    """_run_for_build, once for all processes of an `accelerate launch` / `torchrun` job: the main
    process makes the run and tells the others its folder."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return _run_for_build(args, approach)
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    from .llm import pick_device
    from .runs import Run

    state = PartialState(cpu=pick_device(args.device) == "cpu")  # joins the process group the launcher set up
    box = [None]
    if state.is_main_process:
        run, corpus = _run_for_build(args, approach)
        box = [str(run.path)]
    broadcast_object_list(box)
    if state.is_main_process:
        return run, corpus
    return Run.open(args.out, box[0]), None


def _ft_summary(run, s: dict) -> str:  # owner: fine-tuning builder (issue 4)
    probe = s.get("probe") or {}
    lines = [f"run {run.id}",
             f"{s['approach']}: {s['steps']} steps ({s['epochs']} epochs) on {s['train_examples']} examples, "
             f"train loss {s['first_loss']:.3f} -> {s['last_loss']:.3f}"]
    if s.get("best_step") is not None:
        lines.append(f"best validation loss {s['best_val_loss']:.3f} at step {s['best_step']} (restored)"
                     + (", stopped early" if s["early_stopped"] else ""))
    if probe.get("sample_size"):
        lines.append(f"before training the base model answered {probe['known']}/{probe['sample_size']} sampled "
                     f"training questions ({probe['known_share']:.0%} already known)")
    lines.append(f"{s['tokens_per_s']} tokens/s, trained in {s['train_s']:.0f} s ({s['wall_s']:.0f} s in all), "
                 f"peak memory {s['peak_rss_mb']:.0f} MB")
    lines.append(f"saved in {s['adapter']}")
    return "\n".join(lines)


def _rag_options(p) -> None:  # owner: RAG builder (issue 5); also used by compare
    from .rag import RagConfig

    d = {k: f.default for k, f in RagConfig.model_fields.items()}  # one place for the defaults
    _opt(p, "--chunk-tokens", type=int, metavar="N", help=f"chunk size in embedding-model tokens (default {d['chunk_tokens']})")
    _opt(p, "--chunk-overlap", type=int, metavar="N", help=f"tokens shared by neighbouring chunks (default {d['chunk_overlap']})")
    _opt(p, "--retrieval", choices=["dense", "bm25", "hybrid"],
         help=f"dense (FAISS), bm25, or hybrid: both fused by reciprocal rank (default {d['retrieval']})")
    _opt(p, "--top-k", type=int, metavar="K", help=f"sources per question (default {d['top_k']})")
    _opt(p, "--index", choices=["auto", "flat", "hnsw", "ivf"],
         help=f"FAISS index; auto: exact below {d['flat_below']} chunks, IVF above (default {d['index']})")
    _opt(p, "--context-tokens", type=int, metavar="N", help=f"token budget of the sources in the prompt (default {d['context_tokens']})")


def cmd_build_ft(args) -> int:  # owner: fine-tuning builder (issue 4)
    from .finetune import TqdmProgress, build_adapter, finetune_config

    config = finetune_config(vars(args), quick=args.quick)
    if args.resume and not args.run:
        raise UserError("--resume continues an interrupted build: name its run with --run RUN")
    run, corpus = _shared_run_for_build(args, "ft")
    corpus = corpus or _corpus_of_run(args, run)
    listeners = [] if args.json or int(os.environ.get("RANK", "0")) else [TqdmProgress("ft")]
    summary = build_adapter(run, corpus, config, approach="ft", device=args.device, resume=args.resume,
                            callbacks=listeners)
    if summary:  # only the main process of a multi-process launch reports
        _print(args, _ft_summary(run, summary), {"run": run.id, "path": str(run.path), **summary})
    return 0


def _tqdm_progress(disable: bool):  # owner: RAG builder (issue 5)
    """A progress(done, total, message) callback drawing a tqdm bar on stderr, and its closer."""
    from tqdm import tqdm

    bars: dict[str, object] = {}

    def progress(done: int, total: int, message: str) -> None:
        bar = bars.get(message)
        if bar is None:
            bar = bars[message] = tqdm(total=total, desc=message, unit="chunk", disable=disable, leave=False)
        bar.update(done - bar.n)

    return progress, lambda: [b.close() for b in bars.values()]


def cmd_build_rag(args) -> int:  # owner: RAG builder (issue 5)
    from .embed import load_embedder
    from .rag import build_index, rag_config, retrieval_metrics

    if args.add or args.remove:
        return _rag_update(args)
    config = rag_config(vars(args), quick=args.quick)
    run, corpus = _run_for_build(args, "rag")
    if corpus is None:  # --run: the run's own corpus
        from .corpus import load_corpus, resolve_corpus

        root = run.manifest.get("corpus", {}).get("root")
        corpus = resolve_corpus(args.domain, args.corpus) if (args.domain or args.corpus) else load_corpus(root or ".")
        if corpus.fingerprint != run.manifest["corpus"]["fingerprint"]:
            raise UserError(f"run {run.id} was made for another version of corpus '{run.manifest['corpus']['name']}' "
                            f"(fingerprint {run.manifest['corpus']['fingerprint']}, now {corpus.fingerprint}): start a new run")
    embedder = load_embedder(run.manifest["models"]["embedding"].get("name"), device=args.device,
                             trust_remote_code=args.trust_remote_code)
    progress, close = _tqdm_progress(disable=args.json)
    try:
        index = build_index(run, corpus, config, device=args.device, embedder=embedder, progress=progress)
    finally:
        close()
    metrics = retrieval_metrics(index, corpus.qa, config.top_k)
    stage = run.manifest["stages"]["rag"]
    stage["retrieval"] = metrics
    run.save()
    human = [f"run {run.id}",
             f"rag index: {stage['chunks']} chunks from {stage['documents']} documents, {stage['index']} index, "
             f"built in {stage['build_s']:.1f} s (embedding {stage['embed_chunks_per_s']} chunks/s), "
             f"{stage['index_bytes'] / 1e6:.2f} MB on disk",
             f"adding one document takes {stage['update_add_doc_s']:.2f} s"]
    if metrics["n"]:
        human.append(f"retrieval on {metrics['n']} Q&A pairs ({metrics['mode']}, top-{metrics['k']}): "
                     f"hit@{metrics['k']} {metrics['hit_at_k']:.3f}, MRR {metrics['mrr']:.3f}, nDCG {metrics['ndcg']:.3f}")
    human.append(f"saved in {run.path / 'rag'}")
    _print(args, "\n".join(human), {"run": run.id, "path": str(run.path), **stage})
    return 0


def _rag_update(args) -> int:  # owner: RAG builder (issue 5)
    """`--add PATH` / `--remove DOC_ID`: change a saved index in place, no rebuild."""
    from .embed import load_embedder
    from .rag import RagIndex, read_documents
    from .runs import Run

    if not args.run:
        raise UserError("--add and --remove change an existing index: name its run with --run RUN")
    run = Run.open(args.out, args.run)
    folder = run.path / "rag"
    embedder = load_embedder(run.manifest["models"]["embedding"].get("name"), device=args.device,
                             trust_remote_code=args.trust_remote_code)
    index = RagIndex.load(folder, embedder)
    docs = read_documents(args.add) if args.add else []
    removed = index.remove_document(args.remove) if args.remove else 0
    seconds = index.add_documents(docs) if docs else 0.0
    sizes = index.save(folder)
    info = {"chunks": len(index), "documents": len(index.document_ids), "index_bytes": sum(sizes.values()),
            "last_update": {"added": [d.id for d in docs], "removed": args.remove, "chunks_removed": removed,
                            "add_s": round(seconds, 3)}}
    if docs:
        info["update_add_doc_s"] = round(seconds / len(docs), 3)
    run.set_stage("rag", run.stage("rag").get("status", "done"), **info)
    lines = [f"run {run.id}"]
    if args.remove:
        lines.append(f"removed {args.remove} ({removed} chunks)")
    if docs:
        lines.append(f"added {len(docs)} document(s) ({', '.join(d.id for d in docs)}) in {seconds:.2f} s")
    lines.append(f"the index now holds {info['chunks']} chunks from {info['documents']} documents")
    _print(args, "\n".join(lines), {"run": run.id, **info})
    return 0


# -- assistant chat RUN ----------------------------------------------------------------------  owner: RAG builder (issue 5)
def _print_sources(contexts) -> None:
    if contexts:
        print("Sources:")
        for n, c in enumerate(contexts, 1):
            print(f"[{n}] {c.doc_id} ({c.title}) {c.score:.4f}")


def cmd_chat(args) -> int:
    """Answer questions with one approach of a run: one per line from a pipe, or a prompt loop."""
    from .assistants import RetrievalAssistant, load_assistant
    from .runs import Run

    run = Run.open(args.out, args.run)
    assistant = load_assistant(run, args.approach, device=args.device, max_new_tokens=args.max_new_tokens,
                               precision=args.precision)
    if isinstance(assistant, RetrievalAssistant):
        assistant.top_k, assistant.retrieval = args.top_k, args.retrieval
    if not sys.stdin.isatty():  # scripted: one question per line, each answer with its sources
        for line in sys.stdin:
            question = line.strip()
            if not question:
                continue
            answer = assistant.answer([question])[0]
            if args.json:
                print(json.dumps({"question": question, **answer.to_dict()}, ensure_ascii=False), flush=True)
                continue
            print(f"Q: {question}\n{answer.text}")
            _print_sources(answer.contexts)
            print(flush=True)
        return 0
    print(f"run {run.id}, approach {args.approach}. Ask a question; an empty line or Ctrl-D quits.")
    while True:
        try:
            question = input("> ").strip()
        except EOFError:
            print()
            return 0
        if not question or question in ("exit", "quit"):
            return 0
        pieces, contexts = assistant.stream(question)
        for piece in pieces:
            print(piece, end="", flush=True)
        print()
        _print_sources(contexts)
        print()


def cmd_build_hybrid(args) -> int:  # owner: hybrid builder (issue 9)
    """RAFT: a LoRA adapter trained on the prompts the RAG assistant sees (the run's own index)."""
    from .embed import load_embedder
    from .corpus import UNANSWERABLE
    from .finetune import TqdmProgress, build_adapter, finetune_config, raft_examples
    from .rag import rag_config

    config = finetune_config(vars(args), quick=args.quick, approach="hybrid")
    if args.resume and not args.run:
        raise UserError("--resume continues an interrupted build: name its run with --run RUN")
    if args.gold_share is not None and not 0 <= args.gold_share <= 1:
        raise UserError(f"must be between 0 and 1, not {args.gold_share}", field="gold-share")
    run, corpus = _shared_run_for_build(args, "hybrid")
    corpus = corpus or _corpus_of_run(args, run)
    embedder = load_embedder(run.manifest["models"]["embedding"].get("name"), device=args.device,
                             trust_remote_code=args.trust_remote_code)
    if not (run.path / "rag" / "index.faiss").exists() and not args.json:
        print("no RAG index in this run yet: building it first", file=sys.stderr)
    builder = raft_examples(run, corpus, device=args.device, embedder=embedder, gold_share=args.gold_share,
                            seed=config.seed, rag_config=rag_config(vars(args), quick=args.quick))
    listeners = [] if args.json or int(os.environ.get("RANK", "0")) else [TqdmProgress("hybrid")]
    summary = build_adapter(run, corpus, config, approach="hybrid", device=args.device, resume=args.resume,
                            callbacks=listeners, examples=builder)
    if not summary:  # only the main process of a multi-process launch reports
        return 0
    raft = summary.get("raft", {})
    human = _ft_summary(run, summary)
    if raft:
        human += (f"\nRAFT prompts: {raft['with_gold_source']} with the gold source, "
                  f"{raft['without_gold_source']} without (target: \"{UNANSWERABLE}\")")
    _print(args, human, {"run": run.id, "path": str(run.path), **summary})
    return 0


# -- assistant corpus check ----------------------------------------------------------------
def cmd_corpus_check(args) -> int:  # owner: corpus (issue 3)
    from .corpus import check_corpus, format_check, resolve_corpus

    try:
        if args.paths and (args.domain or args.corpus):
            raise UserError("give PATH or --domain/--corpus, not both")
        summary = check_corpus(resolve_corpus(args.domain, args.paths or args.corpus))
    except UserError as e:
        if args.json:  # the error as JSON too; main() still prints its one line and exits 2
            print(json.dumps({"ok": False, "error": str(e), "path": str(e.path) if e.path else None,
                              "line": e.line, "field": e.field}, indent=2))
        raise
    _print(args, format_check(summary), {"ok": True, **summary})
    return 0


# -- assistant export RUN --merge OUT -------------------------------------------------------
def cmd_export(args) -> int:  # owner: fine-tuning builder (issue 4)
    from .finetune import export_merged
    from .runs import Run

    run = Run.open(args.out, args.run)
    out = export_merged(run, args.merge, approach=args.export_approach)
    _print(args, f"merged {args.export_approach} adapter of run {run.id} into {out}\n"
                 f"load it with transformers.AutoModelForCausalLM.from_pretrained({str(out)!r})",
           {"run": run.id, "approach": args.export_approach, "path": str(out)})
    return 0


# -- assistant compare / eval RUN / report RUN ------------------------------------------------  owner: harness (issue 8)
def _say_progress(args):  # owner: harness (issue 8)
    return None if args.json else (lambda msg: print(f"... {msg}", file=sys.stderr, flush=True))


def _recommendation_text(run, report: dict) -> str:  # owner: harness (issue 8)
    rec = report["recommendation"]
    lines = [f"run {run.id}", "", rec["summary"], ""] + [f"- {s}" for s in rec["reasons"]]
    if rec["caveats"]:
        lines += ["", "Caveats:"] + [f"- {c}" for c in rec["caveats"]]
    lines += ["", f"reports: {run.path / 'report.md'}  {run.path / 'report.html'}  {run.path / 'report.json'}"]
    return "\n".join(lines)


def cmd_compare(args) -> int:  # owner: harness (issue 8)
    from .corpus import resolve_corpus
    from .finetune import TqdmProgress, finetune_config
    from .pipeline import compare, parse_approaches
    from .rag import rag_config

    finetune_config(vars(args), quick=args.quick)  # a bad knob fails before anything is built

    approaches = parse_approaches(args.approaches)
    corpus = resolve_corpus(args.domain, args.corpus)
    values = {k: v for k, v in vars(args).items() if k != "handler"}
    run = compare(corpus, args.out, approaches, quick=args.quick, probes=args.probes, device=args.device,
                  base_model=args.base_model, embedding_model=args.embedding_model, judge=args.judge,
                  progress=_say_progress(args), ft_values=values,
                  rag_config=rag_config({k: v for k, v in values.items() if k != "batch_size"}, quick=args.quick),
                  listeners=[] if args.json else [TqdmProgress("ft")], config=values, precision=args.precision)
    from evals.report import read_json

    report = read_json(run.path / "report.json")
    _print(args, _recommendation_text(run, report),
           {"run": run.id, "path": str(run.path), "recommendation": report["recommendation"], "headline": report["headline"]})
    return 0


def _corpus_for_run(run):  # owner: harness (issue 8)
    from .corpus import load_corpus

    root = run.manifest.get("corpus", {}).get("root")
    if not root:
        raise UserError(f"run {run.id} does not record its corpus folder")
    corpus = load_corpus(root)
    if corpus.fingerprint != run.manifest["corpus"]["fingerprint"]:
        raise UserError(f"the corpus in {root} has changed since run {run.id} was made: start a new run")
    return corpus


def cmd_eval(args) -> int:  # owner: harness (issue 8)
    from .pipeline import _load_probes, evaluate_run
    from .runs import Run

    run = Run.open(args.out, args.run)
    if args.approaches:
        from .pipeline import parse_approaches

        built = parse_approaches(args.approaches)
    else:  # what was built, with base as the reference (an app-made run lists only what it built)
        built = [a for a in run.manifest.get("approaches", []) if a != "base" and run.stage(a).get("status") == "done"]
        if not built:
            raise UserError(f"run {run.id} has no built approach to evaluate")
        built = ["base"] + built
    quick = args.quick if args.quick else bool(run.manifest.get("config", {}).get("quick"))
    report = evaluate_run(run, _corpus_for_run(run), built, quick=quick, probes=_load_probes(args.probes),
                          probes_source=args.probes, device=args.device, judge=args.judge, progress=_say_progress(args),
                          precision=args.precision)
    _print(args, _recommendation_text(run, report), {"run": run.id, "recommendation": report["recommendation"],
                                                     "headline": report["headline"]})
    return 0


def cmd_report(args) -> int:  # owner: harness (issue 8)
    from .pipeline import write_report
    from .runs import Run

    run = Run.open(args.out, args.run)
    report = write_report(run)
    _print(args, _recommendation_text(run, report), {"run": run.id, "recommendation": report["recommendation"],
                                                     "headline": report["headline"]})
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Build a domain assistant two ways (LoRA "
                                     "fine-tuning and FAISS + BM25 retrieval), score both with one harness, recommend "
                                     "one, and chat with it. With no command: the terminal app.")
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
    _device_options(p)
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

    # owner: RAG builder (issue 5): index updates, and chat
    rag = build.choices["rag"]
    _opt(rag, "--add", metavar="PATH", help="add (or replace) documents in --run's index: a .md/.txt file, a folder, or docs.jsonl")
    _opt(rag, "--remove", metavar="DOC_ID", help="remove a document from --run's index")
    p = sub.add_parser("chat", help="ask a run's assistant (one question per line when piped)")
    p.add_argument("run", metavar="RUN", help="run id or folder")
    _common(p, models=False, out=True)
    _opt(p, "--approach", default="rag", choices=["base", "ft", "rag", "hybrid"], help="which assistant (default rag)")
    _device_options(p)
    _opt(p, "--max-new-tokens", type=int, default=128, metavar="N", help="answer length limit (default 128)")
    _opt(p, "--top-k", type=int, metavar="K", help="sources per question (default: the index's)")
    _opt(p, "--retrieval", choices=["dense", "bm25", "hybrid"], help="retrieval mode (default: the index's)")
    p.set_defaults(handler=cmd_chat)

    # owner: corpus (issue 3)
    p = sub.add_parser("corpus", help="check a corpus: counts, formats, warnings, errors")
    corpus_cmds = p.add_subparsers(dest="corpus_command", metavar="check", required=True)
    c = corpus_cmds.add_parser("check", help="load and validate a corpus; exit 2 on the first error")
    c.add_argument("paths", nargs="*", metavar="PATH", help="a corpus folder, or files: docs.jsonl and a Q&A file")
    _common(c, models=False, corpus=True)
    c.set_defaults(handler=cmd_corpus_check)

    # owner: fine-tuning builder (issue 4)
    p = sub.add_parser("export", help="merge a run's LoRA adapter into the base model: a plain transformers folder")
    p.add_argument("run", metavar="RUN", help="run id or folder")
    _common(p, models=False, out=True)
    _opt(p, "--merge", metavar="OUT", required=True, help="the folder to write (must not exist or be empty)")
    # its own dest: _DEFAULTS is keyed by dest, and chat's --approach defaults to rag
    p.add_argument("--approach", dest="export_approach", choices=["ft", "hybrid"], default="ft", help="which adapter (default ft)")
    p.set_defaults(handler=cmd_export)

    # owner: harness (issue 8)
    p = sub.add_parser("compare", help="build every approach, evaluate them with one harness, recommend one")
    _common(p, out=True, corpus=True)
    _opt(p, "--approaches", metavar="LIST", help="comma-separated: base,ft,rag,hybrid (default base,ft,rag)")
    _opt(p, "--probes", metavar="PATH", help="BBQ-format bias probes (default: the corpus's probes.jsonl)")
    _opt(p, "--quick", action="store_true", help="quick profile: a stratified test subset and short fine-tuning")
    _opt(p, "--judge", metavar="MODEL", help="a local LLM judge for ragas' LLM metrics (faithfulness, answer correctness)")
    _ft_options(p)
    _rag_options(p)
    p.set_defaults(handler=cmd_compare)
    for name, handler, helptext in (("eval", cmd_eval, "re-evaluate a run's built approaches and rewrite its reports"),
                                    ("report", cmd_report, "regenerate a run's reports from its records (no models)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("run", metavar="RUN", help="run id or folder")
        _common(p, models=name == "eval", out=True)
        if name == "eval":
            _opt(p, "--approaches", metavar="LIST", help="which approaches (default: every built one)")
            _opt(p, "--probes", metavar="PATH", help="BBQ-format bias probes (default: the corpus's probes.jsonl)")
            _opt(p, "--quick", action="store_true", help="the quick test subset")
            _opt(p, "--judge", metavar="MODEL", help="a local LLM judge for ragas' LLM metrics (faithfulness, answer correctness)")
        p.set_defaults(handler=handler)

    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded unless a hub model is named
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = sys.argv[1:] if argv is None else argv
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) stops a build like Ctrl-C: stages are marked interrupted, checkpoints kept
        signal.signal(signal.SIGTERM, _terminate)
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
