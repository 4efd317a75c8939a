"""The LoRA builder: peft on the transformers `Trainer`.

One training path for both closed-book fine-tuning (`ft`: question -> answer) and the
retrieval-augmented variant (`hybrid`: RAFT prompts with retrieved sources -> cited answer).
What differs is only the `ExampleBuilder` that turns a Q&A pair into (prompt, answer) text.

The Trainer (not a hand-written loop) is what makes the same code run on one CPU, one GPU, or
several GPUs under `accelerate launch` / `torchrun`; it also gives us evaluation, early
stopping, checkpoints and exact resumption. Our own code here is the glue: label masking,
a length-grouped sampler that is seeded per epoch (so a resumed run sees the same batches),
the loss history for the app, the pre-training probe, and atomic outputs.

    run/<approach>/adapter/        adapter_model.safetensors + adapter_config.json
    run/<approach>/history.json    {"history": [{step, epoch, loss | val_loss}], best_step, stopped_step, early_stopped, ...}
    run/<approach>/manifest.json   config, corpus fingerprint, base model + sha256, versions, wall time, tokens/s, memory, probe
    run/<approach>/checkpoints/    Trainer checkpoints while training (removed when the stage is done)
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Protocol, Sequence, runtime_checkable

from pydantic import Field, field_validator

from . import adapters
from .corpus import Corpus, QAPair
from .errors import UserError
from .events import Cancelled, Event, Events, no_events
from .files import folder_size_mb, read_json, sha256_file, write_json, write_jsonl
from .config import FORM, ApproachConfig
from .llm import CHAT_BATCH, DEFAULT_PRECISION, resolve_precision
from .paraphrase import phrasings
from .text import key_terms

IGNORE_INDEX = -100  # label value the loss skips (torch CrossEntropyLoss ignore_index)
# Batch lengths, and the count of answer positions projected onto the vocabulary, are rounded up
# to a multiple of this. oneDNN caches a primitive, with its own buffers, for every new matmul
# shape: with a length and an answer count new at almost every step, a full support build's
# resident memory crept by about 15 MB a step (1.45 -> 2.34 GB over 60 steps; 1.36 -> 1.58 GB
# with ONEDNN_PRIMITIVE_CACHE_CAPACITY=0, which made a step 4x slower).
SHAPE_MULTIPLE = 32
# Batches at most this wide train with the model's eager attention instead of SDPA, on a CPU in
# bf16: torch's CPU flash-attention backward in bf16 was a fifth of a training step (16 ms a layer
# at 8 x 128 tokens, torch.profiler). `benchmarks/attention_width.py` (a step's work on a batch of
# 8, embedded model, bf16), SDPA / eager: 2.37 / 1.98 s at 128 tokens, 2.60 / 2.40 at 160, 2.62 /
# 3.18 at 192, 11.9 / 15.2 at 512; eager keeps every layer's attention weights for backward (194
# MB more saved at 128, 303 at 160). With the bound at 160 the full support build (every batch 128
# or 160 wide) peaked at 3051 MB instead of 2751, over the 3 GB it must stay under. In fp32 a
# one-off timing and this benchmark (--precision fp32) disagreed at 128 tokens (1.02x, 1.23x):
# fp32 keeps SDPA until it is measured on an AVX2 machine, where fp32 is what training runs in.
EAGER_ATTENTION_UP_TO = 128
# compile="auto" compiles the decoder layers of builds of at least this many optimizer steps. On
# support's quick build (135 steps, embedded model, bf16, an AMX Xeon) a step took 1.30 s compiled
# against 1.81 (medians), after 40-70 s of compiling with an empty inductor cache: about break-even
# at 135 steps (the demo's build 294 s against 302), 244 s against 314 with the cache warm, and
# about 400 MB less peak memory either way. A build of a few dozen steps would lose time.
COMPILE_FROM_STEPS = 100
# gradient_checkpointing="auto" recomputes activations where the layers are compiled: there it
# costs little time and saves most of the activations. The training steps of
# benchmarks/finetune_speed.py's "ours" (embedded model, bf16, batch 8, an AMX Xeon; 10 timed
# steps, two rounds): compiled 890 / 829 tokens/s and peak 2199 / 2206 MB without, 850 / 837 and
# 1362 / 1361 MB with; eager 599 tokens/s, 2631 MB without, 480 and 1473 MB with (a fifth slower).


# -- configuration ---------------------------------------------------------------------------
# transformers' schedules that need no settings of their own (reduce_lr_on_plateau needs a metric,
# the *_min_lr ones a floor)
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")


class FinetuneConfig(ApproachConfig):
    """Every knob of a LoRA build, with its default; QUICK is the demo/CI profile.

    The quick profile: SmolLM2-135M on a shipped corpus in minutes on 2 CPU cores. A step at
    batch 8 costs about 5 s on a quiet 2-core AVX2 machine (fp32) and 1-2 s with native bf16 (about
    1 s compiled on an AMX Xeon: benchmarks/finetune_speed.py), so the budget is a hundred-odd steps. Spread over the whole train split that would show each fact less
    than once; instead the profile trains on a sample of 64 facts, each in every phrasing the
    corpus has of it (those facts the test split asks again as paraphrases first), so that the
    demo visibly learns the facts the evaluation checks (the full build trains on every pair).
    Small validation and probe samples keep evaluation cheap.

    Both profiles train 9 epochs at 1e-3, early-stopped on a held-out phrasing of the trained facts:
    an adapter is built to learn its facts. On support's quick sample, 3 epochs taught 19% of them
    (asked in a held-out phrasing) and 9 epochs 91% (benchmarks/phrasings.py); the full build
    answers 92% of its trained facts as trained (README, "What the adapter reads").
    """

    QUICK: ClassVar[dict] = dict(max_length=256, eval_steps=6, max_train_examples=64, max_val_examples=16,
                                 probe_questions=32, probe_max_new_tokens=24)

    # LoRA
    # bounded: a rank or batch in the hundreds of thousands only runs out of memory, after minutes
    # 64, not 16: on support's val split (benchmarks/phrasings.py --try "" "rank=64,alpha=128", with
    # and without --full) the full adapter answered a held-out rule phrasing of 315 of its 325 facts
    # instead of 293 (26 vs 4 discordant), and people's rewordings 17 of 40 instead of 14; the quick
    # one 24 of 40 instead of 18; training about 15% slower, and the full support build peaked at
    # 3114 MB instead of 2983 (2727 MB since lora_model keeps the adapted layers' input in bf16;
    # README: "A larger adapter did better"; --rank 16 --alpha 32 is the old one)
    rank: int = Field(64, ge=1, le=1024, description="LoRA rank r", json_schema_extra=FORM)
    alpha: int = Field(128, ge=1, description="LoRA scaling alpha (effective scale alpha/r)")
    # 0, not the 0.05 often quoted: peft gives every adapted layer its own dropped copy of its
    # input, about 1 GB of the 4.6 GB peak of a batch of 8 x 200 tokens and a fifth of the step
    # time here, and on support's quick sample 0 learned its facts as well (held-out phrasing
    # 89% vs 91%, n=64, 1 vs 2 discordant; benchmarks/phrasings.py --vary dropout=0.05,0)
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA path")
    target_modules: str | list[str] = Field("all-linear", description="'all-linear' or module names (q_proj, ...)")
    # optimisation
    epochs: float = Field(9.0, gt=0, description="training epochs (an upper bound: early stopping ends sooner)",
                          json_schema_extra=FORM)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)",
                                  json_schema_extra=FORM)
    learning_rate: float = Field(1e-3, gt=0, description="peak learning rate")
    lr_scheduler: str = Field("cosine", description=f"learning-rate schedule: {', '.join(SCHEDULERS)}")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="share of steps warming up")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay")
    batch_size: int = Field(8, ge=1, le=1024, description="examples per device per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    max_length: int = Field(512, ge=16, description="tokens per example (prompt + answer); longer prompts are skipped")
    gradient_checkpointing: Literal["auto", "on", "off"] = Field(
        "auto", description="recompute activations in the backward pass: 40% less peak memory; about a fifth "
        "more time per step, little where the layers are compiled; auto: where they are")
    compile: Literal["auto", "on", "off"] = Field(
        "auto", description=f"compile each decoder layer (torch.compile): about a minute first, faster steps after; "
        f"auto: for builds of {COMPILE_FROM_STEPS}+ steps")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="random seed (data order, LoRA init, sampled pairs)")
    # validation, early stopping, checkpoints
    eval_steps: int = Field(25, ge=1, description="validation loss (and a checkpoint) every N steps")
    patience: int = Field(3, ge=1, description="stop after N evaluations without a better validation loss")
    # several phrasings per fact (Ovadia et al. 2024: one phrasing teaches the string, not the fact)
    phrasings: int = Field(1, ge=1, le=16, description="phrasings of each training fact: the corpus's own pairs, "
                           "then rule rewrites of the question (assistant/paraphrase.py)", json_schema_extra=FORM)
    stop_on: Literal["val", "phrasings"] = Field(
        "phrasings", description="early stopping on the validation loss of other facts (val) or of a held-out "
                           "phrasing of each trained fact (phrasings: has it learned what it was taught?)")
    max_train_examples: int | None = Field(None, ge=1, description="train on a seeded sample of this many facts, each "
                                           "with all its phrasings (quick demos)")
    max_val_examples: int | None = Field(None, ge=1, description="cap on validation examples (seeded sample)")
    save_total_limit: int = Field(2, ge=1, description="checkpoints kept (the best one is always kept)")
    logging_steps: int = Field(1, ge=1, description="train loss logged every N steps")
    # the pre-training probe: how much of the training data the base model already knows
    probe_questions: int | None = Field(256, ge=0, description="training questions probed before training (0: skip)")
    probe_max_new_tokens: int = Field(48, ge=1, description="answer length of the probe's questions")

    @field_validator("gradient_checkpointing", mode="before")
    @classmethod
    def _on_or_off(cls, value):
        # a config written when this setting was a bool says true or false
        return ("on" if value else "off") if isinstance(value, bool) else value

    @field_validator("lr_scheduler")
    @classmethod
    def _known_scheduler(cls, value: str) -> str:
        if value not in SCHEDULERS:
            raise ValueError(f"unknown schedule {value!r}: use {', '.join(SCHEDULERS)}")
        return value


# -- examples -------------------------------------------------------------------------------
@dataclass
class Example:
    """One training example as text: the full chat prompt (template applied, generation prompt
    added, exactly as at answer time) and the answer the model should write after it."""

    prompt: str
    answer: str
    meta: dict = field(default_factory=dict)


@runtime_checkable
class ExampleBuilder(Protocol):
    """Turns a Q&A pair into an Example (torchtune-style "message transform")."""

    name: str

    def build(self, pair: QAPair, llm) -> Example:
        ...


@dataclass
class QAExamples:
    """Closed-book examples (`ft`): the corpus's system prompt + the question -> the reference answer.
    The prompt is the one ClosedBookAssistant uses at answer time."""

    system_prompt: str = ""
    name: str = "qa"

    def build(self, pair: QAPair, llm) -> Example:
        return Example(llm.chat_prompt(pair.question, self.system_prompt or None), pair.answer.strip())

    def describe(self) -> dict:
        return {"builder": self.name, "system_prompt": self.system_prompt}


@dataclass
class DocumentExamples:
    """Continued pre-training examples (`train_on` docs): the documents' text cut into passages of
    at most `max_tokens` tokens, with no prompt, so the loss is on every token, as the adapter
    would read the documents themselves (Ovadia et al. 2024's setting, mixed with the Q&A pairs
    rather than before them). `cap`: a seeded sample of passages, those of `first` documents
    first (the quick profile's demo budget)."""

    documents: list
    max_tokens: int
    cap: int | None = None
    first: frozenset = frozenset()
    seed: int = 0
    name: str = "docs"

    def examples(self, tokenizer) -> list[Example]:
        out = []
        for doc in self.documents:
            ids = tokenizer(doc.text, add_special_tokens=False)["input_ids"]
            for start in range(0, len(ids), self.max_tokens):
                out.append(Example("", tokenizer.decode(ids[start:start + self.max_tokens]).strip(),
                                   {"doc": doc.id, "plain": True}))
        out = [e for e in out if e.answer]
        if self.cap and self.cap < len(out):
            order = list(range(len(out)))
            random.Random(self.seed).shuffle(order)
            order.sort(key=lambda i: out[i].meta["doc"] not in self.first)
            keep = set(order[:self.cap])
            out = [e for i, e in enumerate(out) if i in keep]
        return out

    def describe(self) -> dict:
        return {"documents": len(self.documents), "max_tokens": self.max_tokens, "cap": self.cap}


_MARK = "\u2063ANSWER\u2063"


def end_of_turn(tokenizer) -> str:
    """What the chat template writes after an assistant message, up to and including the eos
    (for ChatML: "<|im_end|>"): the model must learn to write it, so that generation stops."""
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    eos = tokenizer.eos_token
    try:
        full = tokenizer.apply_chat_template(msgs + [{"role": "assistant", "content": _MARK}], tokenize=False)
    except Exception:  # a template that refuses this shape: fall back to the bare eos
        return eos
    tail = full.split(_MARK, 1)[1] if _MARK in full else ""
    return tail[:tail.index(eos) + len(eos)] if eos and eos in tail else eos


def encode_example(tokenizer, example: Example, max_length: int, eot: str | None = None) -> dict | None:
    """input_ids / attention_mask / labels for one example, or None when the prompt alone does
    not fit. Labels are -100 on the prompt (masked by its length, never by the pad id: the pad
    token of SmolLM2 is its eos, which the answer must keep)."""
    eot = end_of_turn(tokenizer) if eot is None else eot
    if example.meta.get("plain"):  # a passage of a document: plain text, no turn to end
        eot = ""
    prompt_ids = tokenizer(example.prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.answer + eot, add_special_tokens=False)["input_ids"]
    if len(prompt_ids) >= max_length - 4:
        return None
    ids = (prompt_ids + answer_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + answer_ids)[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def encode_examples(tokenizer, examples: Sequence[Example], max_length: int) -> tuple[list[dict], int]:
    """Encode many; returns (encoded, how many were skipped because the prompt is too long)."""
    eot = end_of_turn(tokenizer)
    out, skipped = [], 0
    for ex in examples:
        enc = encode_example(tokenizer, ex, max_length, eot)
        if enc is None:
            skipped += 1
        else:
            out.append(enc)
    return out, skipped


# -- the pre-training probe -----------------------------------------------------------------
def knows_answer(generated: str, reference: str, threshold: float = 0.6) -> bool:
    """Normalised containment: at least `threshold` of the reference's key terms, and every
    number in it, appear in the generated answer."""
    ref, got = key_terms(reference), key_terms(generated)
    if not ref:
        return False
    numbers = {w for w in ref if w[0].isdigit()}
    return numbers <= got and len(ref & got) / len(ref) >= threshold


def probe_known(llm, pairs: Sequence[QAPair], builder: ExampleBuilder, limit: int | None, seed: int = 0,
                max_new_tokens: int = 48) -> dict:
    """How many training questions the base model already answers right, before training:
    an estimate of how much of the data is new knowledge (Gekhman et al. 2024: fine-tuning on
    unknown facts is slow to learn and raises hallucination)."""
    pairs = list(pairs)
    sample = pairs if not limit or limit >= len(pairs) else random.Random(seed).sample(pairs, limit)
    if not sample:
        return {"sample_size": 0, "train_pairs": len(pairs)}
    t0 = time.perf_counter()
    gens = llm.generate([builder.build(p, llm).prompt for p in sample], max_new_tokens=max_new_tokens,
                       batch_size=CHAT_BATCH)
    known = [knows_answer(g.text, p.answer) for g, p in zip(gens, sample)]
    return {"sample_size": len(sample), "train_pairs": len(pairs), "known": sum(known),
            "known_share": round(sum(known) / len(sample), 4),
            "method": "greedy answer contains >=60% of the reference's key terms and all its numbers",
            "max_new_tokens": max_new_tokens, "wall_s": round(time.perf_counter() - t0, 2),
            "known_ids": [p.id for p, k in zip(sample, known) if k]}


# -- progress, cancel -----------------------------------------------------------------------
class TrainingInterrupted(Cancelled):
    """Training stopped on request (the cancel token) after saving a resumable checkpoint."""


BUILD_TIME = "build_time.json"  # in each checkpoint: the build's seconds so far, all segments
DIVERGED_RISE = 2.0  # a train loss this many times its first logged value (after warm-up) has diverged


def divergence(losses: Sequence[float], step: int, warmup_steps: int) -> str | None:
    """Why the logged train losses (first to latest) say training diverged, or None.

    A non-finite loss always; after warm-up, a loss above DIVERGED_RISE times the first one (and a
    nat above it, so that batch-to-batch noise on a low start is no alarm). A learning rate far too
    high ends in one of the two; the Trainer would otherwise go on and save a useless adapter."""
    if not losses:
        return None
    first, last = losses[0], losses[-1]
    if not math.isfinite(last):
        return f"training diverged at step {step}: the train loss is {last} (it began at {first:.3f})"
    if step > warmup_steps and math.isfinite(first) and last > max(DIVERGED_RISE * first, first + 1.0):
        return (f"training diverged at step {step}: the train loss rose to {last:.3f} from {first:.3f} "
                f"(over {DIVERGED_RISE:g}x)")
    return None


def _trainer_callbacks(events: Events, cancel: threading.Event | None, history_path: Path | None, approach: str,
                       spent=None, stop_on: str = "val"):
    """TrainerCallbacks: cancel on request, history.json after each log, an Event after each log,
    and the build's time so far (`spent()`) into each checkpoint, for the wall time of a resumed build."""
    from transformers import TrainerCallback

    class Glue(TrainerCallback):
        def __init__(self):
            self.cancelled = False
            self.t0 = None
            self.step0 = 0
            self.tokens0 = 0

        def on_train_begin(self, args, state, control, **kw):
            self.t0, self.step0, self.tokens0 = time.perf_counter(), state.global_step, state.num_input_tokens_seen

        def check_cancel(self, control):
            if cancel is not None and cancel.is_set() and not self.cancelled:
                self.cancelled = True
                control.should_save = True  # a checkpoint at this very step: --resume continues from here
                control.should_training_stop = True
            return control

        def on_step_end(self, args, state, control, **kw):
            return self.check_cancel(control)

        def on_save(self, args, state, control, **kw):
            ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if spent is not None and state.is_world_process_zero and ckpt.is_dir():
                write_json(ckpt / BUILD_TIME, {"spent_s": round(spent(), 2)})

        def eta(self, state) -> float | None:
            done = state.global_step - self.step0
            if not done or self.t0 is None:
                return None
            return (time.perf_counter() - self.t0) / done * max(0, state.max_steps - state.global_step)

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            main = state.is_world_process_zero
            if main and history_path is not None:
                write_json(history_path, history_from_state(state, approach, status="running", stop_on=stop_on))
            evals = _eval_losses(logs)
            if main and ("loss" in logs or evals):
                events(Event(approach, state.global_step, state.max_steps, f"step {state.global_step}",
                             "eval" if evals else "train", {"loss": logs.get("loss"), **evals,
                                                            "epoch": round(state.epoch or 0, 3), "eta_s": self.eta(state)}))
            if "loss" in logs:  # every process logs the same gathered loss, so every one stops here
                why = divergence([e["loss"] for e in state.log_history if "loss" in e], state.global_step,
                                 args.get_warmup_steps(state.max_steps))
                if why:
                    if main and history_path is not None:
                        write_json(history_path, history_from_state(state, approach, status="failed", stop_on=stop_on))
                    raise UserError(f"{why}: lower it (now {args.learning_rate:g})", field="learning-rate")
            return self.check_cancel(control) if main else None  # a listener may have set the token at this step

    return Glue()


# the validation sets, by the name the Trainer logs them under (eval_<name>_loss) and the history's key
VAL_SETS = {"val": "val_loss", "phrasings": "phrasings_loss"}


def _eval_losses(logs: dict) -> dict:
    """The validation losses in one Trainer log, by the history's keys (val_loss: other facts,
    phrasings_loss: held-out phrasings of the trained facts)."""
    out = {key: logs[f"eval_{name}_loss"] for name, key in VAL_SETS.items() if f"eval_{name}_loss" in logs}
    if "eval_loss" in logs:  # one unnamed validation set (checkpoints written before the sets had names)
        out.setdefault("val_loss", logs["eval_loss"])
    return out


def history_from_state(state, approach: str, status: str, early_stopped: bool = False, stop_on: str = "val") -> dict:
    """The loss history from the Trainer's log, in the shape the app and the overfitting report
    read; best_step and best_val_loss are those of the set early stopping watched (`stop_on`)."""
    rows = []
    for e in state.log_history:
        row = {"loss": e["loss"]} if "loss" in e else _eval_losses(e)
        if row:
            rows.append({"step": e["step"], "epoch": round(e.get("epoch", 0), 4), **row})
    key = VAL_SETS[stop_on]
    vals = [r for r in rows if key in r]
    best = min(vals, key=lambda r: r[key]) if vals else None
    return {"approach": approach, "status": status, "history": rows, "max_steps": state.max_steps,
            "stop_on": stop_on, "best_step": best["step"] if best else None,
            "best_val_loss": best[key] if best else None, "stopped_step": state.global_step,
            "early_stopped": early_stopped}


# -- the Trainer pieces ---------------------------------------------------------------------
def trainer_class(seed: int):
    """The transformers Trainer with two changes of ours, both about wasted work or lost determinism.

    1. Its length-grouped sampler draws each epoch's order from (seed, epoch). transformers'
       LengthGroupedSampler draws from the global RNG at the start of each epoch, so a run resumed in
       epoch 2 would see another order than the uninterrupted run; the Trainer calls set_epoch.
    2. The loss projects onto the vocabulary only at the answer positions (logits_to_keep with a
       boolean mask): the prompt is most of each example and its logits would be thrown away. With
       SmolLM2's 49k vocabulary the LM head is about a fifth of the model's FLOPs.
    3. A short batch on a CPU in bf16 runs the model's eager attention (EAGER_ATTENTION_UP_TO),
       a longer one the SDPA it was loaded with; the model leaves training with its own again.
    """
    import torch
    import torch.nn.functional as F
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
        def set_epoch(self, epoch: int) -> None:
            self.generator = torch.Generator().manual_seed(seed * 1000 + int(epoch))

    class BuilderTrainer(Trainer):
        def _get_train_sampler(self, train_dataset=None):
            ds = train_dataset if train_dataset is not None else self.train_dataset
            sampler = EpochSeededLengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                                      dataset=ds)
            sampler.set_epoch(0)
            return sampler

        def train(self, *args, **kwargs):
            model = self.accelerator.unwrap_model(self.model)
            self.transformer = model.get_base_model() if hasattr(model, "get_base_model") else model
            loaded = self.transformer.config._attn_implementation
            self.switch_attention = loaded == "sdpa" and self.args.bf16 and self.args.device.type == "cpu"
            try:
                return super().train(*args, **kwargs)
            finally:
                self.switch_attention = False
                self.transformer.set_attn_implementation(loaded)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if getattr(self, "switch_attention", False):
                wanted = "eager" if inputs["input_ids"].shape[1] <= EAGER_ATTENTION_UP_TO else "sdpa"
                if self.transformer.config._attn_implementation != wanted:
                    self.transformer.set_attn_implementation(wanted)

            labels = inputs["labels"]
            targets = torch.full_like(labels, IGNORE_INDEX)
            targets[:, :-1] = labels[:, 1:]  # position t predicts token t + 1
            keep = targets != IGNORE_INDEX
            projected = round_up_positions(keep, SHAPE_MULTIPLE)
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, logits_to_keep=projected)
            logits = outputs.logits.reshape(-1, outputs.logits.shape[-1])  # (answer tokens + filler, vocab)
            # the filler positions' targets are IGNORE_INDEX, which cross_entropy skips
            loss = F.cross_entropy(logits.float(), targets[projected], ignore_index=IGNORE_INDEX, reduction="sum")
            # Same reduction as transformers' causal-LM loss: a mean over the target tokens of the
            # batch, or of the whole accumulated batch (num_items_in_batch) when the Trainer gives it.
            self.loss_is_scaled_for_ga = num_items_in_batch is not None
            if num_items_in_batch is None:
                loss = loss / keep.sum().clamp(min=1)
            else:
                loss = loss / num_items_in_batch
                if self.args.average_tokens_across_devices:
                    loss = loss * self.accelerator.num_processes
            return (loss, outputs) if return_outputs else loss

    return BuilderTrainer


def round_up_positions(keep, multiple: int):
    """`keep` (a boolean mask) with more positions set, from the first unset ones, so that the
    count is a multiple of `multiple` (or every position): a bounded set of matmul shapes."""
    import torch

    n, total = int(keep.sum()), keep.numel()
    extra = min(-n % multiple, total - n)
    if not extra:
        return keep
    flat = keep.flatten().clone()
    flat[torch.nonzero(~flat).flatten()[:extra]] = True
    return flat.view_as(keep)


def early_stopping_callback(patience: int):
    """transformers' EarlyStoppingCallback, quiet about the validation sets it does not watch:
    with several eval sets it hears each one's metrics apart and warns on every other set."""
    from transformers import EarlyStoppingCallback

    class OneSetEarlyStopping(EarlyStoppingCallback):
        def on_evaluate(self, args, state, control, metrics, **kwargs):
            if args.metric_for_best_model in metrics:
                super().on_evaluate(args, state, control, metrics, **kwargs)

    return OneSetEarlyStopping(early_stopping_patience=patience)


def training_arguments(config: FinetuneConfig, output_dir: Path, device: str, has_val: bool, precision: str = "fp32",
                       best_at_end: bool = True, stop_on: str = "val"):
    """The Trainer's arguments; `precision` is resolved (llm.resolve_precision): bf16 or fp32,
    `config` settled (`settle`: no "auto" left). `best_at_end`: restore the checkpoint of the
    lowest loss on the validation set `stop_on`."""
    from transformers import TrainingArguments

    if "auto" in (config.compile, config.gradient_checkpointing):
        raise ValueError("training_arguments needs a settled config (finetune.settle)")
    checkpointing = config.gradient_checkpointing == "on"

    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size * 2,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=config.weight_decay,
        logging_strategy="steps", logging_steps=config.logging_steps,
        logging_nan_inf_filter=False,  # a NaN loss is logged as NaN (else as 0.0): divergence() must see it
        eval_strategy="steps" if has_val else "no", eval_steps=config.eval_steps,
        save_strategy="steps", save_steps=config.eval_steps, save_total_limit=config.save_total_limit,
        load_best_model_at_end=has_val and best_at_end, metric_for_best_model=f"eval_{stop_on}_loss", greater_is_better=False,
        restore_callback_states_from_checkpoint=True,  # the early-stopping counter survives a resume
        bf16=precision == "bf16", use_cpu=device == "cpu",
        activation_checkpointing=checkpointing,  # transformers' newer name for it
        activation_checkpointing_kwargs={"use_reentrant": False} if checkpointing else None,
        seed=config.seed, data_seed=config.seed,
        include_num_input_tokens_seen="non_padding",
        label_names=["labels"], remove_unused_columns=False, prediction_loss_only=True,
        report_to="none", disable_tqdm=True, dataloader_num_workers=0,
    )


def lora_config(config: FinetuneConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=config.target_modules, task_type="CAUSAL_LM", bias="none")


def lora_model(llm, config: FinetuneConfig, precision: str):
    """The base model with a fresh LoRA adapter, ready to train in `precision` (resolved)."""
    import torch
    from peft import get_peft_model

    if precision == "bf16":
        # the frozen weights in the precision their matmuls run in under autocast (load_llm gives
        # them so; a model loaded otherwise is cast here): the layers' inputs are then bf16
        # already, and the adapted layers of one input (q, k, v) save one copy of it for
        # backward, not three casts (0.4 GB less at 8 x 200 tokens); the adapter's own weights
        # stay fp32 (peft), as does the optimiser
        llm.model.to(torch.bfloat16)
    try:
        model = get_peft_model(llm.model, lora_config(config))
    except ValueError as e:  # peft: target modules that the model does not have
        raise UserError(f"{str(e).splitlines()[0]} (model '{llm.source.name}')", field="target-modules") from None
    if precision == "bf16":
        # peft casts each adapted layer's input to the adapter's fp32 and autocast casts it back to
        # bf16 for the matmul: a bf16 copy of the input per adapted layer, each saved for backward
        # (seven a layer). Kept as it is (what peft.helpers.disable_input_dtype_casting sets), the
        # adapter's matmul saves the very tensor the frozen one did: the same losses, and
        # benchmarks/finetune_speed.py's peak 2639 -> 2326 MB at 341 -> 365 tokens/s
        from peft.tuners.tuners_utils import BaseTunerLayer

        for layer in model.modules():
            if isinstance(layer, BaseTunerLayer):
                layer.cast_input_dtype_enabled = False
    model.train()  # gradient checkpointing is the Trainer's, non-reentrant: inputs need no gradient
    return model


def planned_steps(config: FinetuneConfig, examples: int) -> int:
    """The optimizer steps the Trainer will plan for `examples` (before any early stop)."""
    per_epoch = max(math.ceil(examples / config.batch_size) // config.grad_accum, 1)
    return config.max_steps or math.ceil(config.epochs * per_epoch)


def settle(config: FinetuneConfig, examples: int) -> FinetuneConfig:
    """The config with its "auto" settings decided for a build of `examples` training examples:
    compiled from COMPILE_FROM_STEPS planned steps where torch.compile can compile, checkpointed
    where compiled. The manifest records these, what the build ran."""
    compiled = config.compile == "on" or (config.compile == "auto" and can_compile()
                                          and planned_steps(config, examples) >= COMPILE_FROM_STEPS)
    checkpointed = config.gradient_checkpointing == "on" or (config.gradient_checkpointing == "auto" and compiled)
    return config.model_copy(update={"compile": "on" if compiled else "off",
                                     "gradient_checkpointing": "on" if checkpointed else "off"})


def can_compile() -> bool:
    """Whether torch.compile can build kernels here: inductor compiles CPU kernels with a C++
    compiler. Without one, dynamo's suppress_errors runs a layer's forward eagerly, but the
    backward graph is compiled at the first backward, past that fallback, and fails the build
    (tests/test_finetune.py): so a build on such a machine does not compile."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()  # finds a working compiler (`CXX`, else g++) or raises
        return True
    except Exception:  # InvalidCxxCompiler, or a torch without this helper
        return False


def compile_blocks(model) -> int:
    """Compile each repeated decoder layer in place (PyTorch's "regional compilation"), not the
    whole model: the layers are alike, so inductor compiles their kernels once (its cache), and the loss's
    data-dependent answer mask stays outside the graph. Returns how many layers were compiled.

    On a CPU most of a LoRA step outside the matmuls is small elementwise work (the adapters'
    scale-and-add, norms, activations, rotary), memory-bound and one op at a time in eager mode;
    compiled, it is fused into the matmuls' neighbours. Dynamic shapes: batch widths vary.
    A layer's Python differs per instance (its layer index), so each is traced apart: the cache
    limits are raised to hold them all. Where tracing a layer fails, it runs eagerly
    (suppress_errors); a machine without a C++ compiler is not compiled for at all (can_compile)."""
    import torch._dynamo

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    blocks = set(getattr(base, "_no_split_modules", None) or [])  # transformers names its repeated block class
    layers = [m for m in model.modules() if type(m).__name__ in blocks]
    if not layers:
        return 0
    dynamo = torch._dynamo.config
    dynamo.cache_size_limit = max(dynamo.cache_size_limit, 8 * len(layers))
    dynamo.accumulated_cache_size_limit = max(dynamo.accumulated_cache_size_limit, 32 * len(layers))
    dynamo.suppress_errors = True
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)


def data_collator(tokenizer):
    """Pads each batch to its longest example (not to max_length), rounded up to SHAPE_MULTIPLE:
    inputs with the pad id, labels with -100, attention mask 0."""
    from transformers import DataCollatorForSeq2Seq

    tokenizer.padding_side = "right"
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX,
                                  pad_to_multiple_of=SHAPE_MULTIPLE)


# -- model identity -------------------------------------------------------------------------
def describe_base_model(source) -> dict:
    """name, kind, path and the sha256 of the weights file(s) of the base model."""
    info = {"name": source.name, "kind": source.kind, "path": source.path, "sha256": None}
    folder = Path(source.path)
    if source.kind == "hub":
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(source.path, local_files_only=True, allow_patterns=["*.safetensors"]))
        except Exception:
            return info
    files = sorted(folder.glob("*.safetensors"))
    if len(files) == 1:
        info["sha256"] = sha256_file(files[0])
    elif files:
        from .files import sha256_folder

        info["sha256"] = sha256_folder(folder, "*.safetensors")
    return info


# -- resume ---------------------------------------------------------------------------------
def _identity(approach: str, config: FinetuneConfig, corpus: Corpus, base_name, builder, precision: str) -> dict:
    """What a checkpoint was made for; a resume must match it. The base model by its resolved
    name: the manifest records the resolved name after the first load ("default" would differ)."""
    from .llm import resolve_base_model

    describe = getattr(builder, "describe", None)
    # how the steps run (compiled, recomputing activations) is not what they compute: a resume may change it
    return {"approach": approach, "config": {**config.model_dump(exclude={"compile", "gradient_checkpointing"}),
                                             "precision": precision},
            "corpus_fingerprint": corpus.fingerprint,
            "base_model": resolve_base_model(base_name).name, "examples": describe() if describe else {"builder": builder.name}}


def _last_complete_checkpoint(ckpt_dir: Path) -> str | None:
    """The newest checkpoint that was fully written, removing any newer half-written one.

    The Trainer writes a checkpoint's files one by one and trainer_state.json last, not
    atomically: a kill while saving leaves a checkpoint folder without (or with a truncated)
    trainer_state.json, which resume_from_checkpoint cannot load.
    """
    if not ckpt_dir.is_dir():
        return None
    steps = sorted((p for p in ckpt_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                   key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    for ckpt in steps:
        try:
            json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
            return str(ckpt)
        except (OSError, ValueError):
            shutil.rmtree(ckpt, ignore_errors=True)  # half-written by an interrupted save
    return None


def _spent_before(checkpoint: str | None) -> float:
    """What the build had spent when it saved `checkpoint` (0 if it was not recorded). Time after
    that checkpoint is work the resume does again, and counts once, in the resumed segment."""
    try:
        return float(read_json(Path(checkpoint) / BUILD_TIME)["spent_s"]) if checkpoint else 0.0
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _resume_point(ckpt_dir: Path, identity: dict) -> str:
    """The checkpoint to resume from, or a UserError saying why we cannot."""

    saved_path = ckpt_dir / "build.json"
    last = _last_complete_checkpoint(ckpt_dir)
    if last is None or not saved_path.exists():
        raise UserError(f"cannot resume: no checkpoint in {ckpt_dir} (build again without --resume)")
    saved = read_json(saved_path)
    if saved.get("corpus_fingerprint") != identity["corpus_fingerprint"]:
        raise UserError(f"cannot resume: the corpus changed since the checkpoint (fingerprint "
                        f"{saved.get('corpus_fingerprint')} -> {identity['corpus_fingerprint']}); build again without --resume")
    for key in ("approach", "base_model", "examples"):
        if saved.get(key) != identity[key]:
            raise UserError(f"cannot resume: {key} changed since the checkpoint ({saved.get(key)} -> {identity[key]})")
    old, new = saved.get("config", {}), identity["config"]
    changed = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in new if old.get(k) != new.get(k)]
    if changed:
        raise UserError(f"cannot resume: the config changed since the checkpoint ({'; '.join(changed)})")
    return last


# -- the builder ----------------------------------------------------------------------------
def _sample(pairs: list[QAPair], cap: int | None, seed: int, tested_facts: set | frozenset = frozenset()) -> list[QAPair]:
    """All pairs, or those of a seeded sample of `cap` facts (in their corpus order): a fact comes
    with every phrasing the corpus has of it. Facts the test split asks again in other words
    (paraphrase items) come first, so that a short demo training learns the facts the evaluation
    checks; the rest of the sample is drawn at random. (With one pair per fact, as the shipped
    corpora have, a sample of facts is the sample of pairs it always was.)"""
    facts = list(dict.fromkeys(p.fact_id or p.id for p in pairs))
    if not cap or cap >= len(facts):
        return list(pairs)
    order = list(range(len(facts)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: facts[i] not in tested_facts)  # stable: tested facts first, seeded within
    keep = {facts[i] for i in order[:cap]}
    return [p for p in pairs if (p.fact_id or p.id) in keep]


def _save_adapter(model, folder: Path) -> Path:
    """save_pretrained into a temporary sibling folder, then swap it in (never a half adapter)."""
    tmp = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    old = folder.parent / f".{folder.name}.{os.getpid()}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        adapters.seal(tmp)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder


def build_adapter(run, corpus: Corpus, config: FinetuneConfig, approach: str = "ft", device: str = "auto",
                  resume: bool = False, events: Events = no_events,
                  examples: ExampleBuilder | None = None, cancel: threading.Event | None = None,
                  precision: str = DEFAULT_PRECISION, documents: DocumentExamples | None = None,
                  train_qa: bool = True, early_stopping: bool = True) -> dict:
    """Train a LoRA adapter on the corpus's train split into `run/<approach>/`; returns a summary.

    `events` hears an Event after each logged step; setting `cancel` stops training after the
    current step, leaving a checkpoint that `resume=True` continues from (the stage is recorded
    "interrupted" and TrainingInterrupted is raised). `documents`: passages of the documents to
    train on as well (`train_on` docs+qa), or alone with `train_qa=False` (docs);
    `early_stopping=False` logs the validation loss but neither stops on it nor restores its best.
    """
    from .llm import load_llm, pick_device
    from .memory import PeakMemory

    if config.compile == "on" and not can_compile():
        raise UserError("--compile on: torch.compile finds no C++ compiler on this machine (install g++, or use "
                        "--compile auto or off)", field="compile")
    train_pairs, val_pairs = corpus.split("train"), corpus.split("val")
    if not train_pairs:
        raise UserError(f"corpus '{corpus.name}' has no training pairs (no qa.jsonl lines with split \"train\")",
                        path=(corpus.root / "qa.jsonl") if corpus.root else None)
    tested = {q.fact_id for q in corpus.split("test") if q.kind == "paraphrase" and q.fact_id}
    train_pairs = _sample(train_pairs, config.max_train_examples, config.seed, tested)
    phrased = phrasings(train_pairs, config.phrasings, config.seed)  # the pairs, their rewrites, one held back
    builder = examples or QAExamples(corpus.system_prompt)
    base_name = run.base_model
    folder = run.dir(approach)
    ckpt_dir, history_path = folder / "checkpoints", folder / "history.json"
    device = pick_device(device)
    precision = resolve_precision(precision, device)
    identity = _identity(approach, config, corpus, base_name, builder, precision)
    if documents:
        identity["documents"] = documents.describe()
    resume_from = _resume_point(ckpt_dir, identity) if resume else None
    earlier_s = _spent_before(resume_from)

    # Under `accelerate launch` / `torchrun` every process runs this; only the main one writes
    # the run's files (the Trainer itself saves checkpoints from the main process only).
    main = int(os.environ.get("RANK", "0")) == 0
    if approach not in run.manifest.setdefault("approaches", []):
        run.manifest["approaches"].append(approach)
    stage_context = run.running(approach, earlier_s=earlier_s, resumed_from=Path(resume_from).name if resume_from
                                else None) if main else contextlib.nullcontext({})
    with stage_context as stage, PeakMemory() as memory:
        t_start = time.perf_counter()
        if not resume_from and main:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
            write_json(ckpt_dir / "build.json", identity)
        llm = load_llm(base_name, device=device, precision=precision)
        base_info = describe_base_model(llm.source)
        if main:
            run.manifest.setdefault("models", {}).setdefault("base", {}).update(base_info)
            run.save()

        # the val split's own rewordings of trained facts (kind "paraphrase") are not other facts
        trained_facts = {p.fact_id for p in train_pairs if p.fact_id}
        val_sample = _sample([q for q in val_pairs if q.fact_id not in trained_facts], config.max_val_examples,
                             config.seed)
        # as many held-out phrasings as other-fact examples, so that the two curves are as noisy
        held_sample = _sample(phrased.held_out, len(val_sample) or config.max_val_examples or 64,
                              config.seed) if train_qa else []
        if hasattr(builder, "prefetch"):  # batched retrieval for RAFT prompts
            builder.prefetch(phrased.train + val_sample + held_sample)

        # What the base model already knows, before training (kept across a resume).
        probe_path = ckpt_dir / "probe.json"
        if resume_from and probe_path.exists():
            probe = read_json(probe_path)
        elif not main:
            probe = {"sample_size": 0, "note": "probed by the main process"}
        else:
            events(Event(approach, 0, 0, "probing what the base model already knows", "probe"))
            probe = probe_known(llm, train_pairs, builder, config.probe_questions, config.seed,
                                config.probe_max_new_tokens) if config.probe_questions else {"sample_size": 0}
            write_json(probe_path, probe)

        import torch
        from transformers import PrinterCallback, set_seed

        train_examples = [builder.build(p, llm) for p in phrased.train] if train_qa else []
        if documents:
            train_examples += documents.examples(llm.tokenizer)
        train_set, skipped = encode_examples(llm.tokenizer, train_examples, config.max_length)
        # two validation sets: other facts (the val split), and a held-out phrasing of each trained fact
        val_sets, val_skipped = {}, 0
        for name, pairs in (("val", val_sample), ("phrasings", held_sample)):
            encoded, n_skipped = encode_examples(llm.tokenizer, [builder.build(p, llm) for p in pairs], config.max_length)
            val_skipped += n_skipped
            if encoded:
                val_sets[name] = encoded
        stop_on = config.stop_on if config.stop_on in val_sets else next(iter(val_sets), config.stop_on)
        val_set = val_sets.get("val", [])
        write_jsonl(folder / "examples.sample.jsonl", [asdict(e) for e in train_examples[:4] + train_examples[4:][-4:]])
        gold = [e.meta["gold"] for e in train_examples if e.meta.get("gold") is not None]
        example_stats = {"with_gold_source": sum(gold), "without_gold_source": len(gold) - sum(gold),
                         "gold_share": round(sum(gold) / len(gold), 4)} if gold else {}
        if not train_set:
            raise UserError(f"every training prompt is longer than max_length={config.max_length} tokens: raise max_length")

        set_seed(config.seed)
        config = settle(config, len(train_set))
        model = lora_model(llm, config, precision)
        if config.compile == "on":
            compile_blocks(model)
        args = training_arguments(config, ckpt_dir, device, has_val=bool(val_sets), precision=precision,
                                  best_at_end=early_stopping, stop_on=stop_on)
        glue = _trainer_callbacks(events, cancel, history_path, approach,
                                  spent=lambda: earlier_s + time.perf_counter() - t_start, stop_on=stop_on)
        trainer_callbacks = [glue]
        if val_sets and early_stopping:
            trainer_callbacks.append(early_stopping_callback(config.patience))
        trainer = trainer_class(config.seed)(
            model=model, args=args, train_dataset=train_set, eval_dataset=val_sets or None,
            data_collator=data_collator(llm.tokenizer), callbacks=trainer_callbacks)
        trainer.remove_callback(PrinterCallback)  # it prints every log dict; our listeners report instead

        t_train = time.perf_counter()
        trainer.train(resume_from_checkpoint=resume_from)
        train_s = time.perf_counter() - t_train
        state = trainer.state
        tokens = state.num_input_tokens_seen - glue.tokens0
        if glue.cancelled:
            if trainer.is_world_process_zero():
                write_json(history_path, history_from_state(state, approach, status="interrupted", stop_on=stop_on))
            raise TrainingInterrupted(f"{approach} training cancelled at step {state.global_step}; "
                                      f"continue with --resume")
        early_stopped = state.global_step < state.max_steps

        summary = {}
        if trainer.is_world_process_zero():
            history = history_from_state(state, approach, status="done", early_stopped=early_stopped,
                                         stop_on=stop_on)
            _save_adapter(trainer.model, folder / "adapter")
            write_json(history_path, history)
            train_losses = [r["loss"] for r in history["history"] if "loss" in r]
            summary = {
                "approach": approach, "adapter": str(folder / "adapter"), "steps": state.global_step,
                "max_steps": state.max_steps, "epochs": round(state.epoch or 0, 3), "best_step": history["best_step"],
                "best_val_loss": history["best_val_loss"], "early_stopped": early_stopped,
                "first_loss": train_losses[0] if train_losses else None,
                "last_loss": train_losses[-1] if train_losses else None,
                "train_examples": len(train_set), "val_examples": len(val_set),
                "phrasing_examples": len(val_sets.get("phrasings", [])), "stop_on": stop_on,
                "skipped_too_long": skipped + val_skipped, **({"raft": example_stats} if example_stats else {}), "probe": {k: v for k, v in probe.items() if k != "known_ids"},
                "train_s": round(train_s, 2), "wall_s": round(earlier_s + time.perf_counter() - t_start, 2),
                "earlier_s": earlier_s,
                "tokens": int(tokens), "tokens_per_s": round(tokens / train_s, 1) if train_s > 0 else None,
                "resumed_from": Path(resume_from).name if resume_from else None,
                "device": device, "precision": precision, **memory.figures(),
            }
            from .runs import package_versions

            write_json(folder / "manifest.json", {
                **summary, "config": config.model_dump(), "examples": identity["examples"],
                "documents": identity.get("documents"),
                "trained_pair_ids": [p.id for p in train_pairs] if config.max_train_examples else "all",
                "corpus": {"name": corpus.name, "fingerprint": corpus.fingerprint, "train_pairs": len(corpus.split("train")),
                           "val_pairs": len(val_pairs)},
                "base_model": base_info, "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
                "versions": package_versions(), "torch_threads": torch.get_num_threads(), "probe": probe})
            shutil.rmtree(ckpt_dir, ignore_errors=True)  # the adapter is the product; checkpoints were for resuming
            stage.update({k: summary[k] for k in ("steps", "best_step", "best_val_loss", "early_stopped", "tokens_per_s",
                                                   "precision")})
        events(Event(approach, state.global_step, state.max_steps, "done", "done",
                     {"loss": summary.get("last_loss"), "val_loss": summary.get("best_val_loss"), "eta_s": 0.0}))
        return summary


# -- export ---------------------------------------------------------------------------------
def export_merged(run, out: str | Path, approach: str = "ft", device: str = "cpu") -> Path:
    """Merge the run's adapter into the base weights and save a plain transformers model folder
    (safetensors + tokenizer) at `out`, atomically (temporary folder, then rename)."""
    from .llm import load_llm

    out = Path(out)
    adapter = adapter_folder(run, approach)
    if out.exists() and any(out.iterdir()):
        raise UserError("the export folder exists and is not empty; choose another", path=out)
    llm = load_llm(run.base_model, device=device, adapter=str(adapter), precision="fp32")  # merged exactly
    merged = llm.model.merge_and_unload()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        merged.save_pretrained(str(tmp), safe_serialization=True)
        llm.tokenizer.padding_side = "right"
        llm.tokenizer.save_pretrained(str(tmp))
        (tmp / "assistant-export.json").write_text(json.dumps({
            "run": run.id, "approach": approach, "adapter_sha256": sha256_file(adapter / "adapter_model.safetensors"),
            "base_model": run.manifest.get("models", {}).get("base", {}),
            "system_prompt": run.manifest.get("system_prompt", "")}, indent=2) + "\n")
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# -- what the approaches built on this builder (ft, hybrid) read back -------------------------
def adapter_folder(run, approach: str) -> Path:
    folder = Path(run.path) / approach / "adapter"
    if not (folder / "adapter_model.safetensors").exists():
        raise UserError(f"run {run.id} has no {approach} adapter (build it: assistant build {approach})")
    return folder


def adapter_facts(run, approach: str) -> dict:
    """Build time, size, peak memory and loss history of a run's adapter; retraining is its update."""
    manifest_path, history_path = run.path / approach / "manifest.json", run.path / approach / "history.json"
    built = read_json(manifest_path) if manifest_path.exists() else {}
    build_s = run.stage(approach).get("wall_s") or built.get("wall_s")
    return {"build_s": build_s, "size_mb": folder_size_mb(run.path / approach / "adapter"),
            "peak_memory_mb": built.get("peak_rss_mb"), "update_s": build_s,
            "update_how": "retrain the adapter: its measured build time",
            "history": read_json(history_path) if history_path.exists() else None}


def summary_lines(s: dict) -> list[str]:
    """A build's summary for people (`assistant build ft|hybrid`)."""
    probe = s.get("probe") or {}
    lines = [f"{s['approach']}: {s['steps']} steps ({s['epochs']} epochs) on {s['train_examples']} examples, "
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
    return lines
