"""`assistant build NAME` for every approach that builds something (approaches/), one handler:
the flags are the approach's Config fields (and those of what it requires); `build rag --add /
--remove` changes a saved index in place; `assistant export` merges an adapter into the base model.
"""
from __future__ import annotations

import contextlib
import os

from ..errors import UserError
from .options import ConsoleEvents, named, print_result, values_of


def cmd_build(args) -> int:
    """Build one approach into a new run (or --run RUN), through the pipeline."""
    from .. import approaches, pipeline

    name = args.approach
    if name == "rag" and (args.add or args.remove):
        return _rag_update(args)
    values = vars(args)
    pipeline.configs([name], values, args.quick)  # a bad setting fails before a run is made
    if args.resume and not args.run:
        raise UserError("--resume continues an interrupted build: name its run with --run RUN")
    run, corpus = _shared_run_for_build(args, name)
    made_here = corpus is not None  # a new run (in the main process): a mistake removes it again
    corpus = corpus or _corpus_of_run(args, run)
    quiet = args.json or int(os.environ.get("RANK", "0")) > 0
    # a resume continues the build as it was configured: only the settings named here must agree
    precision = args.precision if named(args, "precision") or not args.resume else None
    with run.removed_on_mistake() if made_here else contextlib.nullcontext():
        results = pipeline.build(run, corpus, [name], values, quick=args.quick, device=args.device,
                                 precision=precision, events=ConsoleEvents(quiet), resume=args.resume, again=True)
    summary = results.get(name)
    if summary:  # only the main process of a multi-process launch reports
        describe = approaches.get(name).describe
        human = "\n".join([f"run {run.id}", *(describe(summary) if describe else [])])
        print_result(args, human, {"run": run.id, "path": str(run.path), **summary})
    return 0


def _run_for_build(args, approach: str):
    """The run a build writes into: `--run RUN` (add to an existing run) or a new one."""
    from ..corpus import resolve_corpus
    from ..pipeline import check_models
    from ..runs import Run

    if getattr(args, "run", None):
        return Run.open(args.out, args.run), None
    corpus = resolve_corpus(args.domain, args.corpus)
    check_models(args.base_model, args.embedding_model)  # a bad model fails before a run is made for it
    run = Run.create(args.out, corpus=corpus, config=values_of(args),
                     approaches=[approach], command=f"build {approach}", base_model=args.base_model,
                     embedding_model=args.embedding_model)
    return run, corpus


def _corpus_of_run(args, run):
    """The corpus a build adds to an existing run: --domain/--corpus if given, else the run's own; it
    must be the version the run was made for."""
    from ..corpus import load_corpus, resolve_corpus

    root = run.manifest.get("corpus", {}).get("root")
    corpus = resolve_corpus(args.domain, args.corpus) if (args.domain or args.corpus) else load_corpus(root or ".")
    if corpus.fingerprint != run.manifest["corpus"]["fingerprint"]:
        raise UserError(f"run {run.id} was made for another version of corpus '{run.manifest['corpus']['name']}' "
                        f"(fingerprint {run.manifest['corpus']['fingerprint']}, now {corpus.fingerprint}): start a new run")
    return corpus


def _shared_run_for_build(args, approach: str):
    """_run_for_build, once for all processes of an `accelerate launch` / `torchrun` job: the main
    process makes the run and tells the others its folder."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return _run_for_build(args, approach)
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    from ..llm import pick_device
    from ..runs import Run

    state = PartialState(cpu=pick_device(args.device) == "cpu")  # joins the process group the launcher set up
    box = [None]
    if state.is_main_process:
        run, corpus = _run_for_build(args, approach)
        box = [str(run.path)]
    broadcast_object_list(box)
    if state.is_main_process:
        return run, corpus
    return Run.open(args.out, box[0]), None


def _rag_update(args) -> int:
    """`--add PATH` / `--remove DOC_ID`: change a saved index in place, no rebuild."""
    from ..embed import load_embedder
    from ..rag import RagIndex, read_documents
    from ..runs import Run

    if not args.run:
        raise UserError("--add and --remove change an existing index: name its run with --run RUN")
    run = Run.open(args.out, args.run)
    folder = run.path / "rag"
    embedder = load_embedder(run.embedding_model, device=args.device,
                             trust_remote_code=args.trust_remote_code)
    docs = read_documents(args.add) if args.add else []
    # read, change and write the index under the run's lock: two updates at once take turns
    # instead of the second overwriting the first with an index that lacks its document
    with run.lock():
        run = Run.open(args.out, run.path)
        index = RagIndex.load(folder, embedder)
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
    print_result(args, "\n".join(lines), {"run": run.id, **info})
    return 0



# -- assistant export RUN --merge OUT -------------------------------------------------------
def cmd_export(args) -> int:
    from ..finetune import export_merged
    from ..runs import Run

    run = Run.open(args.out, args.run)
    out = export_merged(run, args.merge, approach=args.export_approach)
    print_result(args, f"merged {args.export_approach} adapter of run {run.id} into {out}\n"
                 f"load it with transformers.AutoModelForCausalLM.from_pretrained({str(out)!r})",
           {"run": run.id, "approach": args.export_approach, "path": str(out)})
    return 0


