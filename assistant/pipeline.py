"""compare / build / evaluate: where the approaches and the harness meet.

Every step loops over the approach registry (approaches/): build() builds what each approach
needs (its requirements first), evaluate_run() loads each approach's assistant and hands it to
the shared harness (evals/, which knows only the Assistant protocol and the Corpus), then writes
the reports and stores the headline figures and the recommendation in the run's manifest (the
registry of runs picks them up). compare() is the three in a new run.

The build facts the report needs (build time, size on disk, peak memory, the measured cost of
adding one document, the loss history) come from each approach's facts() into eval/build.json,
so the harness never learns how an assistant was built. Progress goes out as Events (events.py);
one cancel token stops any stage at its next safe point.
"""
from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

from . import approaches as registry
from .errors import UserError
from .events import Event, Events, check, no_events
from .files import write_json
from .llm import DEFAULT_PRECISION
from .memory import INTERVAL_S

DEFAULT_APPROACHES = ("base", "ft", "rag")


def parse_approaches(text: str | list[str] | None) -> list[str]:
    """'base,ft,rag' (or a list) as registered approach names; None: the default set."""
    if text is None:
        return list(DEFAULT_APPROACHES)
    items = text if isinstance(text, list) else text.split(",")
    items = [a.strip() for a in items if a.strip()]
    if not items:
        raise UserError(f"no approach named: choose from {', '.join(registry.names())}", field="approaches")
    for name in items:
        registry.get(name)  # an unknown name is a UserError naming the choices
    return list(dict.fromkeys(items))


def configs(approaches: list[str], values: dict | None, quick: bool) -> dict:
    """Each approach's Config (requirements included) from the profile and the given values: a bad
    value fails here, before anything is built."""
    return {name: registry.make_config(name, values, quick) for name in registry.build_order(approaches)}


def check_models(base_model: str | None, embedding_model: str | None) -> None:
    """The named models resolve and their folders hold a readable model: a bad name or folder
    fails here, before a run is made for it."""
    from .embed import check_embedding_model
    from .llm import check_base_model

    check_base_model(base_model)
    check_embedding_model(embedding_model)


def compare(corpus, out, approaches=DEFAULT_APPROACHES, values: dict | None = None, quick: bool = False,
            probes: str | None = None, device: str = "auto", precision: str = DEFAULT_PRECISION,
            base_model: str | None = None, embedding_model: str | None = None, judge: str | None = None,
            events: Events = no_events, cancel: threading.Event | None = None, config: dict | None = None):
    """Build every approach of `approaches` into a new run, evaluate them, report; returns the Run."""
    from .runs import Run

    approaches = parse_approaches(list(approaches))
    configs(approaches, values, quick)  # a bad knob fails before anything is written
    if judge:
        from evals.judge import check_judge

        check_judge(judge)  # a judge that cannot be found fails before anything is built
    probe_items = load_probes(probes)  # a bad probes file fails before anything is written
    if not corpus.split("test"):
        raise UserError(f"corpus '{corpus.name}' has no test split to evaluate on", path=corpus.root)
    check_models(base_model, embedding_model)
    run = Run.create(out, corpus=corpus, approaches=approaches, command="compare", base_model=base_model,
                     embedding_model=embedding_model,
                     config={**(config or values or {}), "approaches": approaches, "quick": quick, "probes": probes,
                             "device": device, "precision": precision, "judge": judge})
    with run.removed_on_mistake():
        build(run, corpus, approaches, values, quick=quick, device=device, precision=precision, events=events,
              cancel=cancel)
    evaluate_run(run, corpus, approaches, quick=quick, probes=probe_items, probes_source=probes, device=device,
                 precision=precision, judge=judge, events=events, cancel=cancel)
    return run


def load_probes(path: str | None) -> list[dict] | None:
    if not path:
        return None
    from evals.bias import load_probes as read

    return read(path)


def build(run, corpus, approaches, values: dict | None = None, quick: bool | None = False, device: str = "auto",
          precision: str | None = DEFAULT_PRECISION, events: Events = no_events,
          cancel: threading.Event | None = None, resume: bool = False, again: bool = False) -> dict:
    """Build what `approaches` need, requirements first. A stage already done is kept, unless
    `again` asks to rebuild the named approaches; `resume` continues them from their checkpoint,
    with the settings, profile and precision they were started with (`quick` or `precision`
    None: as recorded; a value named in `values` that differs fails the checkpoint's check).
    Each stage records what it is built with. Returns each build's own summary."""
    results = {}
    for name, config in configs(list(approaches), values, bool(quick)).items():
        approach = registry.get(name)
        named = name in approaches and (again or resume)
        if not approach.builds or (run.stage(name).get("status") == "done" and not named):
            continue
        check(cancel)
        resuming = resume and name in approaches
        stage_quick, stage_precision = bool(quick), precision or DEFAULT_PRECISION
        if resuming:
            config, stage_quick, stage_precision = _resumed_settings(run, name, values, quick, precision)
        run.describe_stage(name, settings=config.model_dump(), quick=stage_quick, precision=stage_precision)
        events(Event(name, 0, 0, f"building {name} ({'quick' if stage_quick else 'full'} profile)", "start"))
        results[name] = approach.build(run, corpus, config, device=device, precision=stage_precision, events=events,
                                       cancel=cancel, resume=resuming)
        gc.collect()
    return results


def _resumed_settings(run, name: str, values: dict | None, quick: bool | None, precision: str | None):
    """(config, quick, precision) an interrupted build of `name` was started with (its stage's
    record; a run from before stages recorded them: the run's config), with the values named
    now on top."""
    stage = run.stage(name)
    if "settings" in stage:
        recorded, was_quick, was_precision = stage["settings"], bool(stage.get("quick")), stage.get("precision")
    else:
        recorded = run.manifest.get("config") or {}
        was_quick, was_precision = bool(recorded.get("quick")), recorded.get("precision")
    if quick is not None and bool(quick) != was_quick:
        raise UserError(f"cannot resume: the {name} build was started {'with' if was_quick else 'without'} --quick",
                        field="quick")
    given = {k: v for k, v in (values or {}).items() if v is not None}
    config = registry.make_config(name, {**recorded, **given}, was_quick)
    return config, was_quick, precision or was_precision or DEFAULT_PRECISION


def evaluate_run(run, corpus, approaches, quick: bool = False, probes: list[dict] | None = None,
                 probes_source: str | None = None, device: str = "auto", judge: str | None = None,
                 events: Events = no_events, cancel: threading.Event | None = None,
                 precision: str = DEFAULT_PRECISION) -> dict:
    """Evaluate the run's built approaches with the harness, then write the reports. Every
    model runs in `precision` (resolved on this machine, recorded in the stage and the report)."""
    from evals.harness import EvalConfig, Harness

    from .assistants import RetrievalAssistant
    from .embed import load_embedder
    from .llm import pick_device, resolve_precision

    if judge:
        from evals.judge import check_judge

        check_judge(judge)
    device = pick_device(device)
    precision = resolve_precision(precision, device)
    with run.running("eval", approaches=list(approaches), quick=quick, device=device, precision=precision):
        embedder = load_embedder(run.embedding_model, device=device)
        harness = Harness(corpus, run.dir("eval"), EvalConfig(quick=quick, judge=judge), embedder=embedder,
                          probes=probes, events=events, cancel=cancel, approaches=len(approaches))
        events(Event("eval", 0, len(approaches), f"evaluating {', '.join(approaches)} on {harness.items.note}"))
        for name in approaches:
            check(cancel)
            approach = registry.get(name)
            assistant = approach.load(run, device=device, precision=precision)
            harness.evaluate(assistant)
            if isinstance(assistant, RetrievalAssistant):  # it has an index to plant documents in
                harness.probe_injection(assistant, _with_planted_documents(assistant, harness.injection_questions()))
            del assistant
            gc.collect()
        if judge:  # after the assistants: the judge is then the only model in memory
            from evals.judge import load_judge

            events(Event("eval", len(approaches), len(approaches), f"loading the LLM judge {judge}"))
            harness.judge(load_judge(judge, device=device, precision=precision))
            gc.collect()
        src = probes_source or (str(Path(corpus.root) / "probes.jsonl") if corpus.probes and corpus.root else None)
        harness.write({"probes_source": src, "device": device, "precision": precision})
        write_json(run.dir("eval") / "build.json", build_facts(run, approaches, harness.timing, device))
    return write_report(run)


def _with_planted_documents(assistant, questions: list[str]):
    """The same retrieval assistant over a copy of its index that also holds one planted
    instruction document per question (in memory only; the run's index is not touched)."""
    import dataclasses

    from evals.injection import planted_documents

    index = assistant.index.copy()
    index.add_documents(planted_documents(questions))
    return dataclasses.replace(assistant, index=index)


def write_report(run) -> dict:
    """report.json / .md / .html from the run's eval records; headline and recommendation into the manifest."""
    from evals.report import build_report, write_reports

    eval_dir = run.path / "eval"
    if not (eval_dir / "meta.json").exists():
        raise UserError(f"run {run.id} has not been evaluated yet (assistant eval {run.id})")
    # a damaged or misshapen record is one line naming it, before anything is written
    report = build_report(eval_dir, run.manifest)
    with run.running("report"):
        write_reports(report, run.path)
        run.manifest["headline"] = report["headline"]
        run.manifest["recommendation"] = {k: report["recommendation"][k] for k in ("winner", "summary", "reasons", "caveats")}
    return report


def build_facts(run, approaches, timing: dict, device: str = "auto") -> dict:
    """What each approach cost to build and to update (its facts()), beside what its evaluation took."""
    out = {"approaches": {}, "history": {}}
    for name in approaches:
        entry = dict(registry.get(name).facts(run, device))
        history = entry.pop("history", None)
        if history:
            out["history"][name] = history
        entry["eval_peak_rss_mb"] = (timing.get(name) or {}).get("peak_rss_mb")
        if entry.get("peak_memory_mb") is None:
            entry["peak_memory_mb"] = entry["eval_peak_rss_mb"]
        out["approaches"][name] = entry
    out["update_note"] = ("Update cost = seconds to take in one new document: rag adds it to the index "
                          "(chunk + embed, measured); ft retrains the adapter (its measured build time in this "
                          "run); hybrid does both. Peak memory is the process's peak resident memory "
                          "while that approach was built (ft/hybrid) or evaluated (base/rag), sampled every "
                          f"{INTERVAL_S * 1000:.0f} ms; it includes what the process already held, such as the "
                          "embedding model.")
    out["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return out
