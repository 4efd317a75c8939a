"""The opt-in LLM judge: ragas' LLM metrics (faithfulness, answer correctness) with a local model.

ragas' collections metrics ask their LLM for a pydantic `response_model` through
`InstructorBaseRagasLLM.generate / agenerate(prompt, response_model)`; its own implementations
need an API client (instructor over OpenAI, LiteLLM...). `LocalJudgeLLM` is that interface over
our own `assistant.llm.LLM` (any local folder, the embedded default or a hub id): the prompt goes
through the chat template, the first JSON object in the reply that fits the schema is parsed;
if none does, it asks once more with a stricter instruction and the reply primed with "{",
then gives up with `JudgeOutputError`.

Scores, per test answer:
  judge_faithfulness        ragas Faithfulness (the answer's statements supported by its
                            retrieved contexts); retrieval approaches only
  judge_answer_correctness  ragas AnswerCorrectness, factuality only (statement-level F1 of the
                            answer against the reference; weights [1, 0]: the embedding
                            similarity is already its own metric, `semantic_similarity`)
An answer the judge could not score is "not scored" with the reason (never NaN, never 0).
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import typing as t

from pydantic import BaseModel, ValidationError

from assistant.llm import DEFAULT_PRECISION

from .metrics import JUDGE_METRICS, not_run
JUDGE_SYSTEM = "You are a careful evaluator. Reply with one JSON object that follows the schema, and nothing else."
RETRY_INSTRUCTION = ("\n\nYour previous reply was not a JSON object that follows the schema above. Reply now with "
                     "only that JSON object, starting with {, in double quotes, with no other text.")
MAX_NEW_TOKENS = 512

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas otherwise tries to phone home

try:  # ragas' collections metrics accept only InstructorBaseRagasLLM instances
    from ragas.llms.base import InstructorBaseRagasLLM
except Exception as e:  # pragma: no cover - ragas is a dependency; reported per metric if it breaks
    InstructorBaseRagasLLM, _RAGAS_ERROR = object, e  # type: ignore[misc,assignment]
else:
    _RAGAS_ERROR = None

M = t.TypeVar("M", bound=BaseModel)


class JudgeOutputError(ValueError):
    """The judge's reply held no JSON object that fits the metric's schema."""


class JudgeContextError(JudgeOutputError):
    """The metric's prompt does not fit the judge model's context (asking again cannot help)."""


def parse_json_object(text: str, response_model: type[M]) -> M:
    """The first JSON object in `text` that validates as `response_model`.

    Written here (not instructor) because instructor drives API clients, not a local
    transformers model; json's raw_decode finds objects inside chatter or markdown fences.
    """
    decoder = json.JSONDecoder()
    problem = "no JSON object in the reply"
    start = text.find("{")
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pass
        else:
            if isinstance(obj, dict):
                try:
                    return response_model.model_validate(obj)
                except ValidationError as e:
                    problem = f"a JSON object that does not fit {response_model.__name__} ({e.error_count()} errors)"
        start = text.find("{", start + 1)
    raise JudgeOutputError(f"{problem}: expected {response_model.__name__}")


class LocalJudgeLLM(InstructorBaseRagasLLM):
    """ragas' LLM interface over a local `assistant.llm.LLM` (greedy, so a repeated prompt is
    answered from a small cache: faithfulness and correctness both split the same answer into
    statements)."""

    def __init__(self, llm, max_new_tokens: int = MAX_NEW_TOKENS, name: str | None = None):
        self.llm, self.max_new_tokens = llm, max_new_tokens
        self.name = name or getattr(getattr(llm, "source", None), "name", "local judge")
        self._cache: dict[tuple[str, str], BaseModel | JudgeOutputError] = {}

    def _complete(self, prompt: str) -> str:
        limit = getattr(self.llm.model.config, "max_position_embeddings", None)
        n = len(self.llm.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if limit and n + self.max_new_tokens > limit:
            raise JudgeContextError(f"the judge prompt ({n} tokens) does not fit the judge's context ({limit} tokens)")
        return self.llm.generate([prompt], max_new_tokens=self.max_new_tokens, batch_size=1)[0].text

    def generate(self, prompt: str, response_model: type[M]) -> M:
        key = (prompt, response_model.__name__)
        if key not in self._cache:
            self._cache[key] = self._ask(prompt, response_model)
        found = self._cache[key]
        if isinstance(found, JudgeOutputError):
            raise found
        return found  # type: ignore[return-value]

    def _ask(self, prompt: str, response_model: type[M]) -> M | JudgeOutputError:
        chat = self.llm.chat_prompt(prompt, system=JUDGE_SYSTEM)
        try:
            return parse_json_object(self._complete(chat), response_model)
        except JudgeContextError as e:
            return e
        except JudgeOutputError:
            pass
        # the stricter retry: the instruction again, and the reply started with "{" for the model
        strict = self.llm.chat_prompt(prompt + RETRY_INSTRUCTION, system=JUDGE_SYSTEM) + "{"
        try:
            return parse_json_object("{" + self._complete(strict), response_model)
        except JudgeOutputError as e:
            return JudgeOutputError(f"{e} (after a retry)")

    async def agenerate(self, prompt: str, response_model: type[M]) -> M:
        return await asyncio.to_thread(self.generate, prompt, response_model)


def load_judge(name: str, device: str = "auto", max_new_tokens: int = MAX_NEW_TOKENS,
               precision: str = DEFAULT_PRECISION) -> LocalJudgeLLM:
    """The judge model (load_llm's resolution: a local folder, the embedded default, a hub id)."""
    from assistant.errors import UserError
    from assistant.llm import load_llm

    try:
        llm = load_llm(name, device=device, precision=precision)
    except UserError as e:
        raise UserError(f"--judge {name}: {e}", field="judge") from None
    return LocalJudgeLLM(llm, max_new_tokens=max_new_tokens, name=name)


def check_judge(name: str) -> None:
    """Fail before anything is built when the judge model cannot be found (nothing is loaded)."""
    from assistant.errors import UserError
    from assistant.llm import resolve_base_model

    try:
        resolve_base_model(name)
    except UserError as e:
        raise UserError(f"--judge {name}: {e}", field="judge") from None


def _metrics(judge_llm):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ragas.metrics.collections import AnswerCorrectness, Faithfulness
    return {"judge_faithfulness": Faithfulness(llm=judge_llm),
            "judge_answer_correctness": AnswerCorrectness(llm=judge_llm, weights=[1.0, 0.0])}


def _reason(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}"[:200]


async def _score_one(metric, name: str, r: dict) -> tuple[float | None, str | None]:
    """(score, None), (None, reason) when the judge failed, or (None, None) when not applicable."""
    if name == "judge_faithfulness":
        contexts = [c["text"] for c in r.get("contexts", []) if c.get("text")]
        if not contexts:
            return None, None  # a closed-book answer has nothing to be faithful to
        kwargs = {"user_input": r["question"], "response": r["answer"], "retrieved_contexts": contexts}
    else:
        kwargs = {"user_input": r["question"], "response": r["answer"], "reference": r["reference"]}
    if not r["answer"].strip():
        return None, "the answer is empty"
    try:
        value = float((await metric.ascore(**kwargs)).value)
    except Exception as e:  # a judge failure is recorded per answer, not a crash of the evaluation
        return None, _reason(e)
    if not math.isfinite(value):
        return None, "the judge found no statements in the answer (ragas gives NaN)"
    return value, None


def score_records(records: list[dict], judge_llm) -> dict[str, list | dict]:
    """Score `records` (answers with question, reference, answer, contexts). Returns, per
    metric, one (score, reason) pair per record (score None: not scored, with the reason, or
    not applicable, reason None), or a not-run entry when the metric cannot run at all.

    Runs its own event loop (asyncio.run): call it from a plain thread (the CLI, a worker),
    never from a running event loop such as Textual's."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("score_records() runs its own event loop: call it from a worker thread")
    if _RAGAS_ERROR is not None:
        return {k: not_run(f"ragas unavailable: {_reason(_RAGAS_ERROR)}") for k in JUDGE_METRICS}
    try:
        metrics = _metrics(judge_llm)
    except Exception as e:
        return {k: not_run(f"ragas LLM metrics unavailable: {_reason(e)}") for k in JUDGE_METRICS}

    async def run_all():
        out = {k: [] for k in JUDGE_METRICS}
        for r in records:
            for name, metric in metrics.items():
                out[name].append(await _score_one(metric, name, r))
        return out

    return asyncio.run(run_all())
