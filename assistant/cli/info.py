"""The commands that look, and build nothing: models, runs list|show, corpus check, and the app."""
from __future__ import annotations

import json

from ..errors import UserError
from .options import print_result


# -- assistant models ----------------------------------------------------------------------
def cmd_models(args) -> int:
    from ..embed import load_embedder
    from ..llm import load_llm

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
    print_result(args, human, rows)
    return 0


# -- assistant runs list|show -------------------------------------------------------------
def cmd_runs_list(args) -> int:
    from ..runs import Registry

    rows = Registry(args.out).list()
    if args.json:
        print_result(args, "", rows)
        return 0
    if not rows:
        print(f"no runs in {args.out}")
        return 0
    print(f"{'run':<34} {'command':<14} {'corpus':<10} {'stages':<40} recommendation")
    for r in rows:
        stages = " ".join(f"{k}:{v}" for k, v in (r["stages"] or {}).items())
        if r.get("damaged"):
            stages = f"DAMAGED: {r['damaged']}"
        rec = r["recommendation"] or {}
        winner = rec.get("winner") if isinstance(rec, dict) else rec
        print(f"{r['id']:<34} {r['command']:<14} {r['corpus']:<10} {stages:<40} {winner or '-'}")
    return 0


def cmd_runs_show(args) -> int:
    from ..runs import Run

    run = Run.open(args.out, args.run)
    m = run.manifest
    if args.json:
        print_result(args, "", m)
        return 0
    print(f"run        {m['id']}  ({run.path})")
    print(f"command    {m.get('command', '')}   created {m['created']}")
    print(f"corpus     {m['corpus']['name']}  fingerprint {m['corpus']['fingerprint']}  "
          f"{m['corpus']['documents']} documents, {m['corpus']['qa']} pairs")
    for role, info in m.get("models", {}).items():
        print(f"{role + ' model':<10} {info.get('name') or 'default'}  {info.get('path', '')}")
    for name, st in m.get("stages", {}).items():
        extra = f"  {st['wall_s']} s" if "wall_s" in st else ""
        err = f"  ({st.get('error') or st['note']})" if st.get("error") or st.get("note") else ""
        print(f"stage      {name:<8} {st['status']}{extra}{err}")
    rec = m.get("recommendation")
    if rec:
        print(f"recommends {rec.get('winner') if isinstance(rec, dict) else rec}")
    return 0


# -- assistant corpus check ----------------------------------------------------------------
def cmd_corpus_check(args) -> int:
    from ..corpus import check_corpus, format_check, resolve_corpus

    try:
        if args.paths and (args.domain or args.corpus):
            raise UserError("give PATH or --domain/--corpus, not both")
        summary = check_corpus(resolve_corpus(args.domain, args.paths or args.corpus))
    except UserError as e:
        if args.json:  # the error as JSON too; main() still prints its one line and exits 2
            print(json.dumps({"ok": False, "error": str(e), "path": str(e.path) if e.path else None,
                              "line": e.line, "field": e.field}, indent=2))
        raise
    print_result(args, format_check(summary), {"ok": True, **summary})
    return 0


def cmd_tui(args) -> int:
    from ..app.app import AssistantApp

    AssistantApp(out=args.out, device=args.device, precision=args.precision).run()
    return 0
