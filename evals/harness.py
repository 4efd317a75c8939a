"""The harness: run any set of assistants over the same items and keep every answer.

It knows the Assistant protocol (name, answer(questions), option_scores(questions, options))
and the Corpus, never how an assistant was built. It writes, into an `eval/` folder:

  answers.jsonl   one record per question and approach: question, reference, answer, contexts,
                  latency, and every text metric (test split, and a stated sample of train)
  options.jsonl   closed-form items scored by option likelihood (test yes/no items, retention)
  bias.jsonl      BBQ probes scored by option likelihood
  swaps.jsonl     counterfactual swaps: the original and swapped answers, changed or not
  injection.jsonl the prompt-injection probe (retrieval approaches): clean and planted-index answers
  meta.json       what was evaluated: items, sample sizes, the quick subset, metrics not run

The report (evals/report/) is built from these files alone, without any model.
"""
from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from assistant.events import Event, Events, check, no_events
from assistant.files import write_json, write_jsonl
from assistant.memory import PeakMemory

from . import bias, injection, metrics

DATA = Path(__file__).resolve().parent / "data"
# The quick subset: unseen facts (where retrieval should show against the base model) and
# paraphrases of trained facts (where fine-tuning should) in the numbers a difference of about 20
# points needs to show, within the demo's 12 minutes (README: make demo's time).
QUICK_PER_KIND = {"unseen": 64, "paraphrase": 48}
QUICK_OTHER_KINDS = 48  # items of a kind not named above (a corpus whose test items carry no kind)
TRAIN_SAMPLE = 24


@dataclass
class EvalConfig:
    quick: bool = False
    # quick: at most this many items of each kind (a number for every kind), all unanswerable ones
    per_kind: dict[str, int] | int = field(default_factory=lambda: dict(QUICK_PER_KIND))
    train_sample: int = TRAIN_SAMPLE  # train questions asked verbatim (overfitting gap): all of the tested
    # paraphrases' facts, and others up to this many
    seed: int = 0
    judge: str | None = None
    injection_questions: int = 8  # answerable test questions probed with a planted instruction document


@dataclass
class EvalSet:
    test: list[dict]
    train: list[dict]
    note: str
    retention: list[dict] = field(default_factory=list)


def _item(q) -> dict:
    return {"id": q.id, "question": q.question, "reference": q.answer, "aliases": list(q.answer_aliases),
            "kind": q.kind, "answer_type": q.answer_type, "doc_ids": list(q.doc_ids), "split": q.split,
            "fact_id": q.fact_id}


def select_items(corpus, config: EvalConfig) -> EvalSet:
    """The test items (all, or the quick stratified subset) and a sample of train items: every
    train pair of the selected paraphrase items' facts (asked verbatim), then others."""
    test = [_item(q) for q in corpus.split("test")]
    rng = random.Random(config.seed)
    note = f"the whole test split ({len(test)} items)"
    if config.quick:
        by_kind: dict[str, list[dict]] = {}
        for it in test:
            by_kind.setdefault(it["kind"] or "unlabelled", []).append(it)
        chosen, cap = [], config.per_kind
        for kind, items in sorted(by_kind.items()):
            most = cap if isinstance(cap, int) else cap.get(kind, QUICK_OTHER_KINDS)
            chosen += items if kind == "unanswerable" else rng.sample(items, min(most, len(items)))
        order = {it["id"]: i for i, it in enumerate(test)}
        chosen.sort(key=lambda it: order[it["id"]])
        taken = {id(it) for it in chosen}
        counts = ", ".join(f"{kind} {sum(id(it) in taken for it in items)} of {len(items)}"
                           for kind, items in sorted(by_kind.items()))
        note = (f"quick: a stratified subset of the test split ({len(chosen)} of {len(test)} items: {counts}; "
                f"seed {config.seed})")
        test = chosen
    facts = {it["fact_id"] for it in test if it["kind"] == "paraphrase" and it["fact_id"]}
    train_all = [_item(q) for q in corpus.split("train")]
    verbatim = [it for it in train_all if it["fact_id"] in facts]
    others = [it for it in train_all if it["fact_id"] not in facts]
    rng.shuffle(others)
    # every trained phrasing of a tested paraphrase's fact (whether the fact was learned at all
    # is what tells "not learned" from "not generalised"), then others up to the sample size
    train = verbatim + others[:max(0, config.train_sample - len(verbatim))]
    return EvalSet(test, train, note, load_retention())


def load_retention() -> list[dict]:
    path = DATA / "retention.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ask(assistant, items: list[dict]) -> list[dict]:
    answers = assistant.answer([it["question"] for it in items]) if items else []
    out = []
    for it, a in zip(items, answers):
        ctx = [c if isinstance(c, dict) else c.__dict__ for c in a.contexts]
        out.append({"approach": assistant.name, **it, "answer": a.text, "contexts": ctx, "latency_s": a.latency_s})
    return out


def _choose(assistant, questions: list[str], options: list[list[str]]) -> list[tuple[list[float], int]]:
    """Each question's option scores and the index of its most likely option (one batched call)."""
    scored = assistant.option_scores(questions, options) if questions else []
    return [([float(x) for x in s], int(max(range(len(s)), key=lambda i: s[i]))) for s in scored]


class Harness:
    """Evaluate assistants one at a time (only one model in memory) into `folder`."""

    def __init__(self, corpus, folder: Path, config: EvalConfig, embedder=None, probes: list[dict] | None = None,
                 events: Events = no_events, cancel: threading.Event | None = None, approaches: int = 0):
        """`events` hears an Event("eval", approaches done, `approaches`, ...) at each step; a set
        `cancel` stops at the next step (Cancelled)."""
        self.corpus, self.folder, self.config, self.embedder = corpus, Path(folder), config, embedder
        self.probes = corpus.probes if probes is None else probes
        self.items = select_items(corpus, config)
        self.idf = metrics.IdfTable.from_texts([d.text for d in corpus.documents])
        self.docs = {d.id: d.text for d in corpus.documents}
        self.events, self.cancel, self.expected = events, cancel, approaches
        self.answers: list[dict] = []
        self.options: list[dict] = []
        self.bias: list[dict] = []
        self.swaps: list[dict] = []
        self.injections: list[dict] = []
        self.timing: dict[str, dict] = {}
        self.not_run: dict[str, dict] = {}

    def step(self, approach: str, message: str) -> None:
        """Report a step (the approach it is on, how many are done) and stop here if cancelled."""
        check(self.cancel)
        self.events(Event("eval", len(self.timing), self.expected, message, approach))

    # -- one assistant --------------------------------------------------------------------
    def evaluate(self, assistant) -> None:
        with PeakMemory() as memory:  # this approach's own peak, not the process's all-time one
            self._evaluate(assistant, memory)

    def _evaluate(self, assistant, memory: PeakMemory) -> None:
        name = assistant.name
        t0 = time.perf_counter()
        self.step(name, f"{name}: answering {len(self.items.test)} test and {len(self.items.train)} train questions")
        records = _ask(assistant, self.items.test) + _ask(assistant, self.items.train)
        self._score(records)
        self.answers += records
        self.step(name, f"{name}: closed-form items and retention probes")
        self._closed_form(assistant, records)
        if self.probes:
            self.step(name, f"{name}: {len(self.probes)} bias probes")
            scored = assistant.option_scores([f"{it['context']} {it['question']}" for it in self.probes],
                                             [[it["ans0"], it["ans1"], it["ans2"]] for it in self.probes])
            self.bias += [bias.probe_record(it, scores, name) for it, scores in zip(self.probes, scored)]
        self._swaps(assistant, records)
        self.timing[name] = {"eval_s": round(time.perf_counter() - t0, 2), **memory.figures()}

    def _score(self, records: list[dict]) -> None:
        for r in records:
            r["scores"] = metrics.score_answer(r["answer"], r, self.idf)
        sims = metrics.semantic_similarity([r["answer"] for r in records], [r["reference"] for r in records], self.embedder)
        ragas = metrics.ragas_scores(records, self.docs)
        for i, r in enumerate(records):
            r["scores"]["semantic_similarity"] = sims[i] if isinstance(sims, list) else None
            for k, v in ragas.items():
                r["scores"][k] = v[i] if isinstance(v, list) else None
        self.not_run.update({k: v for k, v in (("semantic_similarity", sims), *ragas.items()) if isinstance(v, dict)})

    def judge(self, judge_llm) -> None:
        """The LLM-judge metrics (evals/judge.py) on every test answer recorded so far: run after
        all assistants, so the judge is the only model in memory. An answer the judge could not
        score keeps None with the reason in `judge_not_scored`."""
        from . import judge

        test = [r for r in self.answers if r["split"] == "test"]
        self.step("judge", f"LLM judge {self.config.judge}: scoring {len(test)} test answers")
        result = judge.score_records(test, judge_llm)
        for k, v in result.items():
            if isinstance(v, dict):
                self.not_run[k] = v
                continue
            for r, (value, reason) in zip(test, v):
                r["scores"][k] = value
                if reason:
                    r.setdefault("judge_not_scored", {})[k] = reason

    def _closed_form(self, assistant, records: list[dict]) -> None:
        """Closed-form items (yes/no, yes/no/maybe) are decided on what the model knows: the
        option it gives the highest likelihood after its own prompt (as lm-evaluation-harness
        scores multiple choice), not on whether its generated answer begins with the option
        word; that stays beside as `generated_accuracy`, and `form_ok` says whether the answer
        began with an allowed option at all (answer form)."""
        closed = []  # (record, options, label)
        for r in records:
            opts = metrics.closed_form_options(r["answer_type"])
            label = metrics.closed_form_label(r["reference"], opts) if opts and r["kind"] != "unanswerable" else None
            if label is not None:
                closed.append((r, opts, label))
        chosen_closed = _choose(assistant, [r["question"] for r, _, _ in closed], [opts for _, opts, _ in closed])
        for (r, opts, label), (scores, chosen) in zip(closed, chosen_closed):
            correct = float(chosen == label)
            self.options.append({"approach": assistant.name, "set": r["split"], "id": r["id"], "kind": r["kind"],
                                 "options": opts, "scores": scores, "chosen": chosen, "label": label,
                                 "correct": correct})
            s = r["scores"]
            s["generated_accuracy"], s["accuracy"], s["accuracy_rule"] = s["accuracy"], correct, "option likelihood"
        retention = self.items.retention
        for it, (scores, chosen) in zip(retention, _choose(assistant, [it["question"] for it in retention],
                                                            [it["options"] for it in retention])):
            self.options.append({"approach": assistant.name, "set": "retention", "id": it["id"], "kind": None,
                                 "options": it["options"], "scores": scores, "chosen": chosen, "label": it["label"],
                                 "correct": float(chosen == it["label"])})

    def _swaps(self, assistant, records: list[dict]) -> None:
        todo = []
        for r in records:
            if r["split"] != "test":
                continue
            for term, repl, q in bias.swapped_questions(r["question"]):
                todo.append((r, term, repl, q))
        if not todo:
            return
        answers = assistant.answer([q for _, _, _, q in todo])
        for (r, term, repl, q), a in zip(todo, answers):
            self.swaps.append({"approach": assistant.name, "id": r["id"], "term": term, "replacement": repl,
                               "question": r["question"], "swapped_question": q, "answer": r["answer"],
                               "swapped_answer": a.text, "changed": bias.answer_changed(r["answer"], a.text, term, repl)})

    def injection_questions(self) -> list[str]:
        """The answerable test questions the injection probe plants documents for."""
        qs = [it["question"] for it in self.items.test if it["kind"] != "unanswerable"]
        return qs[: self.config.injection_questions]

    def probe_injection(self, assistant, planted) -> None:
        """`planted`: the same assistant over an index that also holds
        injection.planted_documents(self.injection_questions()). Its clean answers are the ones
        evaluate() already recorded."""
        clean = {r["question"]: r["answer"] for r in self.answers if r["approach"] == assistant.name}
        qs = [q for q in self.injection_questions() if q in clean]
        self.step(assistant.name, f"{assistant.name}: prompt-injection probe on {len(qs)} questions")
        for q, a in zip(qs, planted.answer(qs)):
            self.injections.append(injection.injection_record(assistant.name, q, clean[q], a))

    # -- output ---------------------------------------------------------------------------
    def write(self, extra_meta: dict | None = None) -> None:
        """All records, atomically; meta.json last (its presence marks a finished evaluation)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_jsonl(self.folder / "answers.jsonl", self.answers)
        write_jsonl(self.folder / "options.jsonl", self.options)
        write_jsonl(self.folder / "bias.jsonl", self.bias)
        write_jsonl(self.folder / "swaps.jsonl", self.swaps)
        write_jsonl(self.folder / "injection.jsonl", self.injections)
        n_swappable = sum(1 for it in self.items.test if bias.swapped_questions(it["question"]))
        meta = {"selection": self.items.note, "quick": self.config.quick, "n_test": len(self.items.test),
                "n_train_sample": len(self.items.train), "n_retention": len(self.items.retention),
                "n_probes": len(self.probes), "n_swappable_test_questions": n_swappable,
                "judge": self.config.judge, "metrics_not_run": self.not_run,
                "timing": self.timing, "seed": self.config.seed, **(extra_meta or {})}
        write_json(self.folder / "meta.json", meta)
