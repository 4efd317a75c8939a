"""`assistant chat RUN`: one approach of a run answers, with its sources; piped or at a prompt."""
from __future__ import annotations

import json
import sys


def _print_sources(contexts) -> None:
    if contexts:
        print("Sources:")
        for n, c in enumerate(contexts, 1):
            print(f"[{n}] {c.doc_id} ({c.title}) {c.score:.4f}")


def cmd_chat(args) -> int:
    """Answer questions with one approach of a run: one per line from a pipe, or a prompt loop."""
    from ..assistants import RetrievalAssistant, load_assistant
    from ..runs import Run

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
