"""`assistant compare`: where the builders and the harness meet.

compare() creates a run, builds what each approach needs (the RAG index, the LoRA adapters),
evaluates every approach with the shared harness (evals/, which knows only the Assistant
protocol and the Corpus), writes the reports, and stores the headline figures and the
recommendation in the run's manifest (the registry picks them up). evaluate_run() does the last
two steps again on an existing run (`assistant eval RUN`).

The build facts the report needs (build time, size on disk, peak memory, the measured cost of
adding one document, the loss history) are gathered here into eval/build.json, so that the
harness never learns how an assistant was built.
"""
from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Callable

from .assistants import APPROACHES
from .errors import UserError
from .files import read_json, write_json
from .llm import DEFAULT_PRECISION
from .memory import INTERVAL_S

DEFAULT_APPROACHES = ("base", "ft", "rag")


def parse_approaches(text: str | list[str] | None) -> list[str]:
    items = text if isinstance(text, list) else [a.strip() for a in (text or ",".join(DEFAULT_APPROACHES)).split(",")]
    items = [a for a in items if a]
    bad = [a for a in items if a not in APPROACHES]
    if bad or not items:
        raise UserError(f"unknown approach '{bad[0] if bad else ''}': choose from {', '.join(APPROACHES)}",
                        field="approaches")
    return list(dict.fromkeys(items))


def _say(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress:
        progress(msg)


def compare(corpus, out, approaches=DEFAULT_APPROACHES, quick: bool = False, probes: str | None = None,
            device: str = "auto", base_model: str | None = None, embedding_model: str | None = None,
            judge: str | None = None, progress: Callable[[str], None] | None = None, ft_values: dict | None = None,
            rag_config=None, listeners=(), config: dict | None = None, precision: str = DEFAULT_PRECISION):
    """Build every approach of `approaches` into a new run, evaluate them, report; returns the Run."""
    from .runs import Run

    approaches = parse_approaches(list(approaches))
    if judge:
        from evals.judge import check_judge

        check_judge(judge)  # a judge that cannot be found fails before anything is built
    probe_items = _load_probes(probes)  # a bad probes file fails before anything is written
    if "hybrid" in approaches:
        _raft_maker()  # hybrid needs the RAFT example builder: say so before anything is built
    if not corpus.split("test"):
        raise UserError(f"corpus '{corpus.name}' has no test split to evaluate on", path=corpus.root)
    run = Run.create(out, corpus=corpus, approaches=approaches, command="compare", base_model=base_model,
                     embedding_model=embedding_model,
                     config={**(config or {}), "approaches": approaches, "quick": quick, "probes": probes,
                             "device": device, "precision": precision, "judge": judge})
    build(run, corpus, approaches, quick=quick, device=device, progress=progress,
          ft_values={**(ft_values or {}), "precision": precision}, rag_config=rag_config, listeners=listeners)
    evaluate_run(run, corpus, approaches, quick=quick, probes=probe_items, probes_source=probes, device=device,
                 judge=judge, progress=progress, precision=precision)
    return run


def _load_probes(path: str | None) -> list[dict] | None:
    if not path:
        return None
    from evals.bias import load_probes

    return load_probes(path)


def build(run, corpus, approaches, quick: bool, device: str, progress=None, ft_values: dict | None = None,
          rag_config=None, listeners=()) -> None:
    """Build what is missing for `approaches` (a stage already done is kept). `ft_values`: the
    user's fine-tuning knobs (flags / TOML keys) over each approach's own profile (ft or hybrid)."""
    if any(a in ("rag", "hybrid") for a in approaches) and run.stage("rag").get("status") != "done":
        from .rag import build_index
        from .rag import rag_config as make_rag_config

        _say(progress, "building the RAG index")
        build_index(run, corpus, rag_config or make_rag_config(quick=quick), device=device)
    for approach in ("ft", "hybrid"):
        if approach in approaches and run.stage(approach).get("status") != "done":
            from .finetune import build_adapter, finetune_config

            cfg = finetune_config(ft_values or {}, quick=quick, approach=approach)
            _say(progress, f"fine-tuning the {approach} adapter ({'quick profile' if quick else 'full profile'})")
            kwargs = {}
            if approach == "hybrid":
                kwargs["examples"] = _raft_examples(run, corpus, device)
            build_adapter(run, corpus, cfg, approach=approach, device=device, callbacks=listeners, **kwargs)
            gc.collect()


def _raft_maker():
    """The hybrid builder's RAFT example builder (finetune.raft_examples(run, corpus, device=)),
    or a UserError while the hybrid builder has not landed."""
    from . import finetune

    maker = getattr(finetune, "raft_examples", None)
    if maker is None:
        raise UserError("the hybrid approach is not available yet (no RAFT example builder): "
                        "compare base, ft and rag", field="approaches")
    return maker


def _raft_examples(run, corpus, device):
    return _raft_maker()(run, corpus, device=device)


def evaluate_run(run, corpus, approaches, quick: bool = False, probes: list[dict] | None = None,
                 probes_source: str | None = None, device: str = "auto", judge: str | None = None,
                 progress: Callable[[str], None] | None = None, precision: str = DEFAULT_PRECISION) -> dict:
    """Evaluate the run's built approaches with the harness, then write the reports. Every
    model runs in `precision` (resolved on this machine, recorded in the stage and the report)."""
    from evals.harness import EvalConfig, Harness

    from .assistants import RetrievalAssistant, load_assistant
    from .embed import load_embedder
    from .llm import pick_device, resolve_precision

    if judge:
        from evals.judge import check_judge

        check_judge(judge)
    device = pick_device(device)
    precision = resolve_precision(precision, device)
    with run.running("eval", approaches=list(approaches), quick=quick, device=device, precision=precision):
        embedder = load_embedder(run.manifest.get("models", {}).get("embedding", {}).get("name"), device=device)
        harness = Harness(corpus, run.dir("eval"), EvalConfig(quick=quick, judge=judge), embedder=embedder,
                          probes=probes, progress=progress)
        _say(progress, f"evaluating {', '.join(approaches)} on {harness.items.note}")
        for approach in approaches:
            assistant = load_assistant(run, approach, device=device, precision=precision)
            harness.evaluate(assistant)
            if isinstance(assistant, RetrievalAssistant):
                harness.probe_injection(assistant, _with_planted_documents(assistant, harness.injection_questions()))
            del assistant
            gc.collect()
        if judge:  # after the assistants: the judge is then the only model in memory
            from evals.judge import load_judge

            _say(progress, f"loading the LLM judge {judge}")
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
    from evals.report import regenerate

    eval_dir = run.path / "eval"
    if not (eval_dir / "meta.json").exists():
        raise UserError(f"run {run.id} has not been evaluated yet (assistant eval {run.id})")
    with run.running("report"):
        report = regenerate(eval_dir, run.manifest, run.path)
        run.manifest["headline"] = report["headline"]
        run.manifest["recommendation"] = {k: report["recommendation"][k] for k in ("winner", "summary", "reasons", "caveats")}
    return report


# -- build facts ----------------------------------------------------------------------------
def _size_mb(folder: Path) -> float | None:
    if not folder.exists():
        return None
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 2)


def _measure_rag_update(run, device: str) -> float | None:
    """Seconds to add one document to the saved index (a copy in memory; nothing is written)."""
    from .corpus import Document
    from .embed import load_embedder
    from .rag import RagIndex

    folder = run.path / "rag"
    if not (folder / "index.faiss").exists():
        return None
    index = RagIndex.load(folder, load_embedder(run.manifest["models"]["embedding"].get("name"), device=device))
    doc_id = index.document_ids[0]
    text = "\n\n".join(c.text for c in index.chunks.values() if c.doc_id == doc_id)
    return index.add_documents([Document(id="update-probe", title="update probe", text=text)])


def build_facts(run, approaches, timing: dict, device: str = "auto") -> dict:
    """What each approach cost to build and to update, from the run's stages and folders."""
    facts = {"approaches": {}, "history": {}}
    rag_stage = run.stage("rag")
    rag_update = rag_stage.get("update_add_doc_s")
    if rag_update is None and any(a in ("rag", "hybrid") for a in approaches):
        rag_update = _measure_rag_update(run, device)
    for ap in approaches:
        entry = {"eval_peak_rss_mb": (timing.get(ap) or {}).get("peak_rss_mb")}
        if ap == "base":
            entry.update(build_s=0.0, size_mb=0.0, update_s=None,
                         update_how="the base model takes in no documents")
        elif ap == "rag":
            entry.update(build_s=rag_stage.get("wall_s"), size_mb=_size_mb(run.path / "rag"), update_s=rag_update,
                         update_how="add one document to the index, measured")
        else:
            stage = run.stage(ap)
            man = run.path / ap / "manifest.json"
            ft_man = read_json(man) if man.exists() else {}
            hist = run.path / ap / "history.json"
            if hist.exists():
                facts["history"][ap] = json.loads(hist.read_text(encoding="utf-8"))
            build_s = stage.get("wall_s") or ft_man.get("wall_s")
            update = build_s if ap == "ft" else (None if build_s is None else build_s + (rag_update or 0.0))
            entry.update(build_s=build_s, size_mb=_size_mb(run.path / ap / "adapter"),
                         peak_memory_mb=ft_man.get("peak_rss_mb"), update_s=update,
                         update_how="retrain the adapter: its measured build time" + (" + re-index" if ap == "hybrid" else ""))
        if entry.get("peak_memory_mb") is None:
            entry["peak_memory_mb"] = entry["eval_peak_rss_mb"]
        facts["approaches"][ap] = entry
    facts["update_note"] = ("Update cost = seconds to take in one new document: rag adds it to the index "
                            "(chunk + embed, measured); ft retrains the adapter (its measured build time in this "
                            "run); hybrid does both. Peak memory is the process's peak resident memory "
                            "while that approach was built (ft/hybrid) or evaluated (base/rag), sampled every "
                            f"{INTERVAL_S * 1000:.0f} ms; it includes what the process already held, such as the "
                            "embedding model.")
    facts["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    return facts
