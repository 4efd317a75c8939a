"""`assistant compare`, `assistant eval RUN`, `assistant report RUN`: the harness and its verdict."""
from __future__ import annotations

from ..errors import UserError
from .options import ConsoleEvents, print_result, values_of


def recommendation_text(run, report: dict) -> str:
    rec = report["recommendation"]
    lines = [f"run {run.id}", "", rec["summary"], ""] + [f"- {s}" for s in rec["reasons"]]
    if rec.get("diagnosis"):
        lines += ["", "Where the errors are:"] + [f"- {d}" for d in rec["diagnosis"]]
    if rec["caveats"]:
        lines += ["", "Caveats:"] + [f"- {c}" for c in rec["caveats"]]
    lines += ["", f"reports: {run.path / 'report.md'}  {run.path / 'report.html'}  {run.path / 'report.json'}"]
    return "\n".join(lines)


def _print_verdict(args, run, report: dict) -> None:
    print_result(args, recommendation_text(run, report), {"run": run.id, "path": str(run.path),
                                                          "recommendation": report["recommendation"],
                                                          "headline": report["headline"]})


def cmd_compare(args) -> int:
    from ..corpus import resolve_corpus
    from ..files import read_json
    from ..pipeline import compare, parse_approaches

    approaches = parse_approaches(args.approaches)
    corpus = resolve_corpus(args.domain, args.corpus)
    values = values_of(args)
    run = compare(corpus, args.out, approaches, values, quick=args.quick, probes=args.probes, device=args.device,
                  precision=args.precision, base_model=args.base_model, embedding_model=args.embedding_model,
                  judge=args.judge, events=ConsoleEvents(args.json), config=values)
    _print_verdict(args, run, read_json(run.path / "report.json"))
    return 0


def corpus_for_run(run):
    from ..corpus import load_corpus

    root = run.manifest.get("corpus", {}).get("root")
    if not root:
        raise UserError(f"run {run.id} does not record its corpus folder")
    corpus = load_corpus(root)
    if corpus.fingerprint != run.manifest["corpus"]["fingerprint"]:
        raise UserError(f"the corpus in {root} has changed since run {run.id} was made: start a new run")
    return corpus


def cmd_eval(args) -> int:
    from .. import approaches as registry
    from .. import pipeline
    from ..runs import Run

    run = Run.open(args.out, args.run)
    if args.approaches is not None:
        built = pipeline.parse_approaches(args.approaches)
    else:  # what was built, with base as the reference (an app-made run lists only what it built)
        built = [a for a in run.manifest.get("approaches", []) if a in registry.REGISTRY and registry.get(a).builds
                 and run.stage(a).get("status") == "done"]
        if not built:
            raise UserError(f"run {run.id} has no built approach to evaluate")
        built = ["base"] + built
    quick = args.quick if args.quick else bool(run.manifest.get("config", {}).get("quick"))
    report = pipeline.evaluate_run(run, corpus_for_run(run), built, quick=quick,
                                   probes=pipeline.load_probes(args.probes), probes_source=args.probes,
                                   device=args.device, judge=args.judge, events=ConsoleEvents(args.json),
                                   precision=args.precision)
    _print_verdict(args, run, report)
    return 0


def cmd_report(args) -> int:
    from ..pipeline import write_report
    from ..runs import Run

    run = Run.open(args.out, args.run)
    _print_verdict(args, run, write_report(run))
    return 0
