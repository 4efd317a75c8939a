"""The LoRA builder, on the tiny random model: label masking, early stopping, resume, save/load,
merge, history, errors. Each build is a few steps of a ~100k-parameter model (about a second)."""
import json
import threading
import time

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file

from assistant.corpus import Corpus, QAPair
from assistant.errors import UserError
from assistant.files import read_json
from assistant.finetune import (IGNORE_INDEX, SHAPE_MULTIPLE, ExampleBuilder, FinetuneConfig, QAExamples, TrainingInterrupted,
                                build_adapter, data_collator, encode_example, end_of_turn,
                                export_merged, knows_answer)
from assistant.llm import load_llm
from assistant.runs import Run

FACTS = [("What does Avalon Drive cost?", "It costs $12 per user per month."),
         ("How long is the refund window?", "Refunds are available within 30 days."),
         ("What does error AV-1042 mean?", "The upload was too large."),
         ("How much notice must the tenant give?", "28 days' written notice."),
         ("Is there a free plan?", "Yes."),
         ("When is the sepsis bundle due?", "Within 60 minutes."),
         ("Who jumps over the lazy dog?", "The quick brown fox."),
         ("Can I get a refund after 40 days?", "No.")]


def make_corpus(train=FACTS, val=FACTS[:3], val_answers=None, name="tiny"):
    qa = [QAPair(f"t{i}", q, a, split="train") for i, (q, a) in enumerate(train)]
    qa += [QAPair(f"v{i}", q, (val_answers or {}).get(i, a), split="val") for i, (q, a) in enumerate(val)]
    return Corpus(name=name, title=name, documents=[], qa=qa, system_prompt="You answer questions about Avalon.")


def tiny_config(**kw):
    base = dict(rank=4, alpha=8, dropout=0.1, max_steps=6, epochs=10, learning_rate=5e-3, batch_size=3,
                max_length=64, eval_steps=2, patience=2, probe_questions=4, probe_max_new_tokens=4,
                warmup_ratio=0.0, lr_scheduler="linear")
    base.update(kw)
    return FinetuneConfig(**base)


def new_run(tmp_path, corpus, tiny_llm_path):
    return Run.create(tmp_path / "runs", corpus=corpus, config={}, approaches=["ft"], command="test",
                      base_model=str(tiny_llm_path))


def adapter_tensors(run, approach="ft"):
    return load_file(str(run.path / approach / "adapter" / "adapter_model.safetensors"))


def test_labels_mask_the_prompt_and_keep_the_answer_and_its_eos(tiny_llm):
    tok = tiny_llm.tokenizer
    assert tok.pad_token_id == tok.eos_token_id  # as SmolLM2: masking by pad id would drop the eos
    assert end_of_turn(tok) == "<|im_end|>"
    ex = QAExamples("You answer questions about Avalon.").build(QAPair("q", "What does it cost?", "$12 per user."), tiny_llm)
    assert ex.prompt == tiny_llm.chat_prompt("What does it cost?", "You answer questions about Avalon.")
    enc = encode_example(tok, ex, max_length=128)
    n_prompt = len(tok(ex.prompt, add_special_tokens=False)["input_ids"])
    assert enc["labels"][:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert enc["labels"][n_prompt:] == enc["input_ids"][n_prompt:]
    assert enc["labels"][-1] == tok.eos_token_id  # the answer ends with <|im_end|>, and it is learned
    assert tok.decode(enc["input_ids"][n_prompt:]) == "$12 per user.<|im_end|>"

    # Batches pad to their longest example (rounded up to SHAPE_MULTIPLE); padding is masked by
    # position, the real eos kept.
    short = encode_example(tok, QAExamples("Avalon.").build(QAPair("s", "Hi?", "Yes."), tiny_llm), 128)
    assert len(short["input_ids"]) < len(enc["input_ids"])
    batch = data_collator(tok)([short, enc])
    width = -(-len(enc["input_ids"]) // SHAPE_MULTIPLE) * SHAPE_MULTIPLE
    assert batch["input_ids"].shape == (2, width)
    assert (batch["labels"][1, len(enc["input_ids"]):] == IGNORE_INDEX).all()
    n = len(short["input_ids"])
    assert batch["labels"][0, n - 1].item() == tok.eos_token_id
    assert (batch["labels"][0, n:] == IGNORE_INDEX).all() and (batch["attention_mask"][0, n:] == 0).all()
    # A prompt that does not fit is skipped (None), not cut mid-template.
    assert encode_example(tok, ex, max_length=n_prompt) is None


def test_knows_answer_is_normalised_key_term_containment():
    assert knows_answer("Avalon Drive costs $12 per user each month.", "It costs $12 per user per month.")
    assert not knows_answer("It costs $15 per user per month.", "It costs $12 per user per month.")
    assert not knows_answer("I don't know.", "Refunds are available within 30 days.")


def test_builds_adapter_history_and_manifest(tmp_path, tiny_llm_path):
    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    heard = []

    summary = build_adapter(run, corpus, tiny_config(patience=10, max_length=128, stop_on="val"), events=heard.append,
                            device="cpu", precision="fp32")
    ft = run.path / "ft"
    assert (ft / "adapter" / "adapter_model.safetensors").exists() and (ft / "adapter" / "adapter_config.json").exists()
    assert not (ft / "checkpoints").exists()
    hist = read_json(ft / "history.json")
    assert [r["step"] for r in hist["history"] if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in hist["history"] if "val_loss" in r] == [2, 4, 6]
    vals = {r["step"]: r["val_loss"] for r in hist["history"] if "val_loss" in r}
    assert hist["best_step"] == min(vals, key=vals.get) and hist["stopped_step"] == 6 and hist["early_stopped"] is False
    assert all(isinstance(r["epoch"], float) for r in hist["history"])
    manifest = read_json(ft / "manifest.json")
    assert manifest["config"]["rank"] == 4 and manifest["corpus"]["fingerprint"] == corpus.fingerprint
    assert manifest["base_model"]["sha256"] and len(manifest["base_model"]["sha256"]) == 64
    assert manifest["tokens"] > 0 and manifest["tokens_per_s"] > 0 and manifest["peak_rss_mb"] > 0
    assert manifest["probe"]["sample_size"] == 4 and 0 <= manifest["probe"]["known"] <= 4
    # Tokens counted are the real ones: every train example seen, no padding.
    run2 = Run.open(run.out, run.id)
    assert run2.stage("ft")["status"] == "done" and run2.manifest["models"]["base"]["sha256"] == manifest["base_model"]["sha256"]
    assert summary["steps"] == 6 and summary["best_step"] == hist["best_step"]
    assert [p.step for p in heard if p.phase == "train"] == [1, 2, 3, 4, 5, 6]
    # one eval event per validation set: other facts (val_loss), a held-out phrasing of each trained fact
    assert sorted({p.step for p in heard if p.phase == "eval"}) == [2, 4, 6] and heard[-1].phase == "done"
    assert {k for p in heard if p.phase == "eval" for k in p.figures} >= {"val_loss", "phrasings_loss"}
    assert [r["step"] for r in hist["history"] if "phrasings_loss" in r] == [2, 4, 6] and hist["stop_on"] == "val"
    assert summary["last_loss"] < summary["first_loss"]  # it learns


def _val_loss(llm_path, adapter, corpus):
    """Mean token loss of the val examples under base + adapter, as the Trainer computes it."""
    llm = load_llm(str(llm_path), device="cpu", precision="fp32", adapter=str(adapter))
    b = QAExamples(corpus.system_prompt)
    encs = [encode_example(llm.tokenizer, b.build(p, llm), 64) for p in corpus.split("val")]
    batch = data_collator(llm.tokenizer)(encs)
    with torch.no_grad():
        return llm.model(**batch).loss.item()


def test_early_stopping_stops_and_restores_the_best_adapter(tmp_path, tiny_llm_path):
    # Validation answers contradict the trained ones: the more it learns, the worse val loss gets.
    corpus = make_corpus(train=[(q, "Refunds are available within 30 days.") for q, _ in FACTS],
                         val=FACTS[:3], val_answers={i: "The quick brown fox jumps over the lazy dog." for i in range(3)})
    run = new_run(tmp_path, corpus, tiny_llm_path)
    summary = build_adapter(run, corpus, tiny_config(max_steps=30, eval_steps=2, patience=2, learning_rate=2e-2), device="cpu", precision="fp32")
    hist = read_json(run.path / "ft" / "history.json")
    vals = [(r["step"], r["val_loss"]) for r in hist["history"] if "val_loss" in r]
    assert hist["early_stopped"] and hist["stopped_step"] < 30 and summary["early_stopped"]
    assert hist["stopped_step"] == vals[-1][0] and len(vals) >= 3
    best_step, best = min(vals, key=lambda v: v[1])
    assert hist["best_step"] == best_step and best < vals[-1][1]
    # The saved adapter is the best checkpoint, not the last one.
    assert _val_loss(tiny_llm_path, run.path / "ft" / "adapter", corpus) == pytest.approx(best, rel=1e-4)


class CancelAt:
    def __init__(self, step):
        self.step, self.event = step, threading.Event()

    def __call__(self, e):  # an events listener that presses cancel at a step
        if e.step >= self.step:
            self.event.set()


def test_resume_after_interruption_gives_the_same_adapter(tmp_path, tiny_llm_path):
    corpus = make_corpus()
    cfg = tiny_config(max_steps=10, eval_steps=2, patience=10)  # 8 examples / batch 3: spans 3+ epochs
    straight = new_run(tmp_path, corpus, tiny_llm_path)
    build_adapter(straight, corpus, cfg, device="cpu", precision="fp32")

    run = new_run(tmp_path, corpus, tiny_llm_path)
    cancel = CancelAt(5)
    with pytest.raises(TrainingInterrupted):
        build_adapter(run, corpus, cfg, device="cpu", precision="fp32", events=cancel, cancel=cancel.event)
    assert Run.open(run.out, run.id).stage("ft")["status"] == "interrupted"
    assert (run.path / "ft" / "checkpoints" / "checkpoint-5").is_dir()
    assert read_json(run.path / "ft" / "history.json")["status"] == "interrupted"
    with pytest.raises(UserError, match="config changed"):
        build_adapter(run, corpus, cfg.model_copy(update={"learning_rate": 1e-3}), device="cpu", precision="fp32", resume=True)
    with pytest.raises(UserError, match="corpus changed"):
        build_adapter(run, make_corpus(val=FACTS[:2]), cfg, device="cpu", precision="fp32", resume=True)
    summary = build_adapter(run, corpus, cfg, device="cpu", precision="fp32", resume=True)
    assert summary["resumed_from"] == "checkpoint-5" and summary["steps"] == 10

    a, b = adapter_tensors(straight), adapter_tensors(run)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    h1, h2 = (read_json(r.path / "ft" / "history.json") for r in (straight, run))
    assert [r["step"] for r in h1["history"]] == [r["step"] for r in h2["history"]]
    assert h1["best_step"] == h2["best_step"]
    for r1, r2 in zip(h1["history"], h2["history"]):
        assert r1.get("loss", r1.get("val_loss")) == pytest.approx(r2.get("loss", r2.get("val_loss")), rel=1e-4)


def test_resume_without_a_checkpoint_says_why(tmp_path, tiny_llm_path):
    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    with pytest.raises(UserError, match="no checkpoint"):
        build_adapter(run, corpus, tiny_config(), device="cpu", precision="fp32", resume=True)


def test_adapter_loads_and_merges_to_the_same_logits(tmp_path, tiny_llm_path):
    from transformers import AutoModelForCausalLM

    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    build_adapter(run, corpus, tiny_config(max_steps=4, probe_questions=0), device="cpu", precision="fp32")
    with_adapter = load_llm(str(tiny_llm_path), device="cpu", precision="fp32", adapter=str(run.path / "ft" / "adapter"))
    base = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
    ids = with_adapter.tokenizer([with_adapter.chat_prompt(FACTS[0][0])], return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        la = with_adapter.model(**ids).logits
        lb = base.model(**ids).logits
    assert not torch.allclose(la, lb, atol=1e-4)  # the adapter changed something

    out = export_merged(run, tmp_path / "merged")
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out)
    with torch.no_grad():
        lm = merged(**ids).logits
    torch.testing.assert_close(lm, la, rtol=1e-4, atol=1e-4)
    with pytest.raises(UserError, match="not empty"):
        export_merged(run, out)


def test_empty_train_split_is_a_user_error(tmp_path, tiny_llm_path):
    corpus = make_corpus(train=[])
    run = new_run(tmp_path, corpus, tiny_llm_path)
    with pytest.raises(UserError, match="no training pairs"):
        build_adapter(run, corpus, tiny_config(), device="cpu", precision="fp32")
    assert not (run.path / "ft" / "adapter").exists()


def test_config_rejects_unknown_fields_and_quick_profile_is_bounded():
    with pytest.raises(ValidationError, match="rnak"):
        FinetuneConfig(rnak=8)
    q = FinetuneConfig.profile(quick=True)
    assert q.max_train_examples * q.epochs / q.batch_size <= 72 and q.probe_questions <= 64  # about 3 min here


def test_quick_sample_takes_the_facts_the_test_split_paraphrases_first():
    from assistant.finetune import _sample

    train = [QAPair(f"t{i}", f"q{i}?", "a.", split="train", fact_id=f"f{i}") for i in range(20)]
    tested = {"f3", "f7", "f11", "f19"}
    sample = _sample(train, 6, seed=0, tested_facts=tested)
    assert len(sample) == 6 and tested <= {p.fact_id for p in sample}
    assert sample == sorted(sample, key=lambda p: int(p.id[1:]))  # corpus order kept
    assert _sample(train, 6, seed=0, tested_facts=tested) == sample  # seeded
    assert isinstance(QAExamples(), ExampleBuilder)
    # a fact with several phrasings is sampled whole: the cap counts facts, not pairs
    second = [QAPair(f"t{i}-p2", f"other q{i}?", "a.", split="train", fact_id=f"f{i}") for i in range(20)]
    both = [p for pair in zip(train, second) for p in pair]
    whole = _sample(both, 6, seed=0, tested_facts=tested)
    assert len(whole) == 12 and {p.fact_id for p in whole} == {p.fact_id for p in sample}


def test_answer_only_logits_give_the_same_loss_and_gradients(tmp_path, tiny_llm_path):
    """Our loss projects onto the vocabulary at the answer positions only: same value and gradients
    as transformers' own causal-LM loss over all positions."""
    from peft import get_peft_model
    from transformers import TrainingArguments

    from assistant.finetune import lora_config, trainer_class

    llm = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
    b = QAExamples("Avalon.")
    batch = data_collator(llm.tokenizer)([encode_example(llm.tokenizer, b.build(QAPair(str(i), q, a), llm), 64)
                                          for i, (q, a) in enumerate(FACTS[:4])])
    torch.manual_seed(0)
    model = get_peft_model(llm.model, lora_config(tiny_config()))
    for n, p in model.named_parameters():  # a non-zero LoRA B, so that the adapter path matters
        if "lora_B" in n:
            p.data.normal_(0, 0.1)
    model.eval()  # no dropout: both passes see the same function
    trainer = trainer_class(0)(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    ours = trainer.compute_loss(model, dict(batch))
    ours.backward()
    g_ours = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    theirs = model(**batch).loss
    theirs.backward()
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    for n, p in model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(g_ours[n], p.grad, rtol=1e-4, atol=1e-6)


def test_compiled_layers_compute_the_same_loss_and_gradients(tmp_path, tiny_llm_path):
    """compile_blocks compiles each decoder layer in place: the same loss and adapter gradients as
    the uncompiled model, at two batch widths (dynamic shapes), and the same parameter names
    (the adapter saves as before); also when the compiled layers recompute their activations in
    backward (gradient checkpointing, as settle turns on where it compiles)."""
    from transformers import TrainingArguments

    from assistant.finetune import compile_blocks, lora_model, trainer_class

    seen = []
    for compiled, checkpointed in ((False, False), (True, False), (True, True)):
        llm = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
        b = QAExamples("Avalon.")
        batches = [data_collator(llm.tokenizer)([encode_example(llm.tokenizer, b.build(QAPair(str(i), q * k, a), llm), 200)
                                                 for i, (q, a) in enumerate(FACTS[:4])]) for k in (1, 3)]
        assert batches[0]["input_ids"].shape[1] != batches[1]["input_ids"].shape[1]
        torch.manual_seed(0)
        model = lora_model(llm, tiny_config(dropout=0.0), "fp32")
        if compiled:
            assert compile_blocks(model) == llm.model.config.num_hidden_layers
        if checkpointed:  # as the Trainer turns it on
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        for n, p in model.named_parameters():  # a non-zero LoRA B, so that the adapter path matters
            if "lora_B" in n:
                p.data.normal_(0, 0.1)
        layers = [m for m in model.modules() if type(m).__name__ == "LlamaDecoderLayer"]
        assert sum(m._compiled_call_impl is not None for m in layers) == (len(layers) if compiled else 0)
        trainer = trainer_class(0)(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True,
                                                                       report_to="none"))
        figures = []
        for batch in batches:
            loss = trainer.compute_loss(model, dict(batch))
            loss.backward()
            figures.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}))
            model.zero_grad()
        seen.append((figures, sorted(model.state_dict())))
    (eager, eager_names), *others = seen
    for fused, fused_names in others:
        assert eager_names == fused_names
        for (loss_e, grads_e), (loss_c, grads_c) in zip(eager, fused):
            torch.testing.assert_close(loss_c, loss_e, rtol=1e-4, atol=1e-5)
            assert grads_c.keys() == grads_e.keys()
            for n in grads_e:
                torch.testing.assert_close(grads_c[n], grads_e[n], rtol=1e-3, atol=1e-5)


def test_a_machine_without_a_cpp_compiler_trains_uncompiled(tmp_path, tiny_llm_path, monkeypatch):
    """inductor compiles CPU kernels with a C++ compiler. Without one a compiled layer's forward
    falls back to eager (suppress_errors) but its backward fails at the first step (seen with CXX
    naming no compiler and an empty inductor cache): so auto does not compile there, nor
    checkpoint, and --compile on says why before anything is written."""
    import torch._inductor.config as inductor

    from assistant.finetune import COMPILE_FROM_STEPS, can_compile, settle

    assert can_compile()  # this machine has one (and torch still has the helper asked)
    monkeypatch.setattr(inductor.cpp, "cxx", (None, str(tmp_path / "no-such-compiler")))
    assert not can_compile()
    long = settle(FinetuneConfig(max_steps=COMPILE_FROM_STEPS), 64)
    assert (long.compile, long.gradient_checkpointing) == ("off", "off")
    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    with pytest.raises(UserError, match="no C\\+\\+ compiler"):
        build_adapter(run, corpus, tiny_config(compile="on"), device="cpu", precision="fp32")
    assert not (run.path / "ft").exists()


def test_auto_compiles_only_builds_long_enough_to_repay_it_and_checkpoints_where_compiled():
    from assistant.finetune import COMPILE_FROM_STEPS, planned_steps, settle

    nine = FinetuneConfig(batch_size=8, epochs=9)
    assert planned_steps(nine, 64) == 72 and planned_steps(FinetuneConfig(max_steps=5), 10**6) == 5
    assert planned_steps(FinetuneConfig(batch_size=8, grad_accum=2, epochs=1), 33) == 2  # as the Trainer counts

    def settled(**kw):
        s = settle(FinetuneConfig(**kw), 64)
        return s.compile, s.gradient_checkpointing

    assert settled(max_steps=COMPILE_FROM_STEPS - 1) == ("off", "off")
    assert settled(max_steps=COMPILE_FROM_STEPS) == ("on", "on")
    assert settled(compile="on", max_steps=1) == ("on", "on")
    assert settled(compile="off", max_steps=10**6) == ("off", "off")
    assert settled(compile="on", gradient_checkpointing="off") == ("on", "off")
    assert settled(gradient_checkpointing="on", max_steps=1) == ("off", "on")
    # a config written when the setting was a bool
    assert FinetuneConfig(gradient_checkpointing=True).gradient_checkpointing == "on"
    assert FinetuneConfig.model_validate({"gradient_checkpointing": False}).gradient_checkpointing == "off"


def test_training_shapes_come_from_a_bounded_set(tiny_llm_path):
    """Batch lengths and the count of projected answer positions are multiples of SHAPE_MULTIPLE
    (oneDNN keeps a primitive per matmul shape: new shapes every step grew the build's memory)."""
    from assistant.finetune import round_up_positions

    llm = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
    b = QAExamples("Avalon.")
    batch = data_collator(llm.tokenizer)([encode_example(llm.tokenizer, b.build(QAPair(str(i), q, a), llm), 200)
                                          for i, (q, a) in enumerate(FACTS[:3])])
    assert batch["input_ids"].shape[1] % SHAPE_MULTIPLE == 0
    keep = batch["labels"] != -100
    projected = round_up_positions(keep, SHAPE_MULTIPLE)
    assert int(projected.sum()) % SHAPE_MULTIPLE == 0 and bool((projected | ~keep).all())  # every answer position kept
    assert round_up_positions(torch.ones(2, 3, dtype=torch.bool), 32).sum() == 6  # never more than every position


def test_lora_model_freezes_the_base_in_the_training_precision_and_checkpointing_keeps_the_gradients(tiny_llm_path):
    """bf16 training: the frozen weights in bf16, the adapter (and so its optimiser) in fp32.
    Gradient checkpointing recomputes activations; the gradients are the same."""
    from assistant.finetune import lora_model

    model = lora_model(load_llm(str(tiny_llm_path), device="cpu", precision="fp32"), tiny_config(), "bf16")
    assert {p.dtype for p in model.parameters() if not p.requires_grad} == {torch.bfloat16}
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}

    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        llm = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
        model = lora_model(llm, tiny_config(dropout=0.0, gradient_checkpointing=checkpointing), "fp32")
        if checkpointing:
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        for n, p in model.named_parameters():  # a non-zero LoRA B, so that every adapter gets a gradient
            if "lora_B" in n:
                p.data.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        ids = torch.arange(24).reshape(2, 12) % 50 + 5
        model(input_ids=ids, labels=ids).loss.backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys() and all(g is not None for g in grads[1].values())
    for n in grads[0]:
        torch.testing.assert_close(grads[0][n], grads[1][n], rtol=1e-4, atol=1e-6)


def test_short_bf16_batches_on_a_cpu_train_with_eager_attention_and_the_model_keeps_its_own(tiny_llm_path, tmp_path):
    """EAGER_ATTENTION_UP_TO: a batch that narrow runs eager attention, a wider one SDPA; after
    training the model is back on the implementation it was loaded with."""
    from transformers import TrainingArguments

    from assistant.finetune import EAGER_ATTENTION_UP_TO, SHAPE_MULTIPLE, lora_model, trainer_class

    llm = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
    assert llm.model.config._attn_implementation == "sdpa"
    model = lora_model(llm, tiny_config(dropout=0.0), "bf16")
    short, wide = 20, EAGER_ATTENTION_UP_TO + SHAPE_MULTIPLE
    train_set = [{"input_ids": [5] * n, "attention_mask": [1] * n, "labels": [-100] * (n - 2) + [7, 8]}
                 for n in (short, wide)]
    seen = []
    llm.model.register_forward_pre_hook(lambda m, a, kw: seen.append((kw["input_ids"].shape[1],
                                                                       m.config._attn_implementation)),
                                        with_kwargs=True)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, bf16=True, per_device_train_batch_size=1,
                             max_steps=2, report_to="none", save_strategy="no", label_names=["labels"],
                             remove_unused_columns=False)
    trainer_class(0)(model=model, args=args, train_dataset=train_set, data_collator=data_collator(llm.tokenizer)).train()
    assert sorted(seen) == [(32, "eager"), (wide, "sdpa")]
    assert llm.model.config._attn_implementation == "sdpa"


def test_bf16_adapted_layers_keep_their_input_and_save_no_copy_of_it(tiny_llm_path):
    """peft would cast an adapted layer's bf16 input to the adapter's fp32, and autocast cast it
    back: one more bf16 copy per adapted layer, saved for backward. lora_model keeps the input:
    the same loss and gradients, fewer bytes saved."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    from assistant.finetune import lora_model

    def run(cast: bool):
        torch.manual_seed(0)
        model = lora_model(load_llm(str(tiny_llm_path), device="cpu", precision="fp32"), tiny_config(dropout=0.0), "bf16")
        layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
        assert layers and not any(m.cast_input_dtype_enabled for m in layers)
        for m in layers:
            m.cast_input_dtype_enabled = cast
        for n, p in model.named_parameters():  # a non-zero LoRA B, so that every adapter gets a gradient
            if "lora_B" in n:
                p.data.normal_(0, 0.1, generator=torch.Generator().manual_seed(1))
        saved = {}

        def pack(t):
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        ids = torch.arange(48).reshape(2, 24) % 50 + 5
        with torch.autocast("cpu", dtype=torch.bfloat16), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        return loss.item(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}, sum(saved.values())

    loss, grads, saved = run(cast=False)
    loss_cast, grads_cast, saved_cast = run(cast=True)
    assert loss == loss_cast and saved < saved_cast
    for n in grads:
        torch.testing.assert_close(grads[n], grads_cast[n], rtol=0, atol=0)


# -- hybrid (RAFT) ------------------------------------------------------------------------------
TOPICS = ["refund", "notice", "upload", "pricing", "sepsis", "fox"]


def raft_corpus():
    from assistant.corpus import Document

    docs = [Document(t, f"{t.title()} policy", f"# {t.title()} policy\n\nThe {t} rule number {i} says item {i} applies. "
                     f"{FACTS[i][1]}") for i, t in enumerate(TOPICS)]
    qa = [QAPair(f"r{n}", f"{FACTS[n % 6][0]} (case {n})", FACTS[n % 6][1], doc_ids=[TOPICS[n % 6]],
                 split="val" if n % 10 == 0 else "train") for n in range(120)]
    return Corpus(name="raft", title="raft", documents=docs, qa=qa, system_prompt="You answer about Avalon.")


@pytest.fixture(scope="module")
def raft_index(tiny_embedder):
    from assistant.rag import RagConfig, RagIndex

    return RagIndex.build(raft_corpus().documents, tiny_embedder, RagConfig(chunk_tokens=64, chunk_overlap=8, top_k=3,
                                                                            context_tokens=300))


def test_raft_examples_force_the_gold_source_in_for_a_share_and_cite_it(tiny_llm, raft_index):
    from assistant.corpus import UNANSWERABLE
    from assistant.approaches.hybrid import RaftExamples
    from assistant.rag import rag_prompt

    corpus = raft_corpus()
    builder = RaftExamples(raft_index, corpus.system_prompt, gold_share=0.8, seed=0)
    assert isinstance(builder, ExampleBuilder)
    pairs = corpus.split("train")
    builder.prefetch(pairs)
    examples = [builder.build(p, tiny_llm) for p in pairs]
    with_gold = [e for e in examples if e.meta["gold"]]
    share = len(with_gold) / len(examples)
    assert 0.7 <= share <= 0.9 and len(with_gold) < len(examples)
    for pair, ex in zip(pairs, examples):
        chunks = [raft_index.chunks[c] for c in ex.meta["sources"]]
        gold_doc = pair.doc_ids[0]
        if ex.meta["gold"]:
            n = ex.meta["gold_position"]
            assert chunks[n - 1].doc_id == gold_doc  # the gold chunk, at the cited position
            assert [c.doc_id for i, c in enumerate(chunks, 1) if i != n and c.doc_id == gold_doc] == []  # distractors
            assert ex.answer.endswith(f"[{n}].") and ex.answer.replace(f" [{n}]", "") == pair.answer
            assert len(chunks) == 3
        else:
            assert gold_doc not in {c.doc_id for c in chunks} and ex.answer == UNANSWERABLE
        # the prompt is the one the hybrid assistant builds at answer time for these sources
        hits = [h for h in [builder.gold_chunk(pair)] + builder._retrieved(pair.question) if h.chunk.chunk_id in ex.meta["sources"]]
        hits = sorted({h.chunk.chunk_id: h for h in hits}.values(), key=lambda h: ex.meta["sources"].index(h.chunk.chunk_id))
        assert ex.prompt == rag_prompt(tiny_llm, pair.question, hits, system_prompt=corpus.system_prompt,
                                       context_tokens=raft_index.config.context_tokens)
    # the gold positions vary (the model must read, not always cite [1]); draws are deterministic
    assert len({e.meta["gold_position"] for e in with_gold}) > 1
    again = RaftExamples(raft_index, corpus.system_prompt, gold_share=0.8, seed=0)
    assert [again.build(p, tiny_llm).answer for p in reversed(pairs)] == [e.answer for e in reversed(examples)]
    assert all(not e.meta["gold"] for e in (RaftExamples(raft_index, gold_share=0.0).build(p, tiny_llm) for p in pairs[:10]))


def test_hybrid_build_writes_its_adapter_and_answers_carry_their_contexts(tmp_path, tiny_llm_path, tiny_embedder_path,
                                                                          tiny_embedder):
    from assistant.assistants import load_assistant
    from assistant.approaches.hybrid import RaftExamples
    from assistant.rag import RagConfig, build_index

    corpus = raft_corpus()
    run = Run.create(tmp_path / "runs", corpus=corpus, config={}, approaches=["hybrid"], command="test",
                     base_model=str(tiny_llm_path), embedding_model=str(tiny_embedder_path))
    index = build_index(run, corpus, RagConfig(chunk_tokens=64, chunk_overlap=8, top_k=3, context_tokens=300),
                        embedder=tiny_embedder)
    summary = build_adapter(run, corpus, tiny_config(max_steps=3, max_length=512, batch_size=4, max_val_examples=4),
                            approach="hybrid", examples=RaftExamples(index, corpus.system_prompt), device="cpu", precision="fp32")
    assert (run.path / "hybrid" / "adapter" / "adapter_model.safetensors").exists()
    assert read_json(run.path / "hybrid" / "history.json")["approach"] == "hybrid"
    assert 0.7 <= summary["raft"]["gold_share"] <= 0.9 and summary["skipped_too_long"] == 0
    assert read_json(run.path / "hybrid" / "manifest.json")["examples"]["builder"] == "raft"
    hybrid = load_assistant(run, "hybrid", device="cpu", max_new_tokens=4, precision="fp32")
    (answer,) = hybrid.answer([corpus.split("train")[0].question])
    assert answer.contexts and all(c.doc_id in {d.id for d in corpus.documents} for c in answer.contexts)


@pytest.mark.integration
def test_real_model_learns_a_batch_and_the_ft_assistant_answers(tmp_path):
    """SmolLM2-135M on two support pairs, three steps: the loss falls, the adapter loads, it answers."""
    from assistant.assistants import load_assistant
    from assistant.corpus import resolve_corpus

    corpus = resolve_corpus("support")
    run = Run.create(tmp_path / "runs", corpus=corpus, config={}, approaches=["ft"], command="test")
    cfg = FinetuneConfig(max_train_examples=2, batch_size=2, max_steps=3, eval_steps=3, max_val_examples=2,
                         learning_rate=1e-3, warmup_ratio=0.0, lr_scheduler="constant", max_length=192,
                         probe_questions=2, probe_max_new_tokens=8)
    summary = build_adapter(run, corpus, cfg, device="cpu", precision="fp32")
    assert summary["steps"] == 3 and summary["last_loss"] < summary["first_loss"]
    assert run.manifest["models"]["base"]["sha256"] and summary["tokens_per_s"] > 0
    ft = load_assistant(run, "ft", device="cpu", max_new_tokens=8, precision="fp32")
    (answer,) = ft.answer([corpus.split("train")[0].question])
    assert answer.text.strip() and answer.contexts == []


def write_corpus_folder(root, facts=FACTS):
    """A corpus folder the CLI loads: one document, the facts as train pairs, three as val and test."""
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "facts.md").write_text("# Facts\n\n" + "\n\n".join(a for _, a in facts) + "\n")
    (root / "corpus.toml").write_text('name = "tiny"\ntitle = "Tiny"\nsystem_prompt = "You answer about Avalon."\n')
    rows = [{"id": f"t{i}", "question": q, "answer": a, "doc_ids": ["facts"], "split": "train"}
            for i, (q, a) in enumerate(facts)]
    rows += [{"id": f"v{i}", "question": q, "answer": a, "doc_ids": ["facts"], "split": "val"}
             for i, (q, a) in enumerate(facts[:3])]
    rows += [{"id": f"x{i}", "question": q, "answer": a, "doc_ids": ["facts"], "split": "test", "kind": "unseen"}
             for i, (q, a) in enumerate(facts[:3])]
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_resume_continues_the_build_as_it_was_configured(tmp_path, tiny_llm_path, monkeypatch, capsys):
    """Issue 18 item 1: `build ft --run RUN --resume` for a build started with --quick (and other
    flags) takes the interrupted build's own settings; a setting named again that differs is an
    error naming it; the stage's wall time counts every segment, not only the last."""
    from assistant import pipeline
    from assistant.cli import main

    corpus, out = write_corpus_folder(tmp_path / "corpus"), tmp_path / "runs"
    real_build, pause = pipeline.build, 3.0

    class SlowCancelAt(CancelAt):
        def __call__(self, e):  # at the step: spend a while (before the checkpoint is saved), then cancel
            if e.step >= self.step and not self.event.is_set():
                time.sleep(pause)
                self.event.set()

    cancel = SlowCancelAt(4)

    def build_with_cancel(*args, events, **kw):
        return real_build(*args, **{**kw, "events": lambda e: (events(e), cancel(e)), "cancel": cancel.event})

    monkeypatch.setattr(pipeline, "build", build_with_cancel)
    first = ["build", "ft", "--corpus", str(corpus), "--base-model", str(tiny_llm_path), "--out", str(out),
             "--device", "cpu", "--precision", "fp32", "--quick", "--rank", "4", "--alpha", "8", "--max-steps", "8",
             "--batch-size", "3", "--max-length", "64", "--eval-steps", "2", "--patience", "10",
             "--probe-questions", "0", "--warmup-ratio", "0", "--lr-scheduler", "linear"]
    assert main(first) == 130
    monkeypatch.setattr(pipeline, "build", real_build)
    (run_id,) = [p.name for p in out.iterdir() if p.is_dir()]
    assert Run.open(out, run_id).stage("ft")["status"] == "interrupted"
    assert (out / run_id / "ft" / "checkpoints" / "checkpoint-4").is_dir()
    capsys.readouterr()

    # a setting named again with another value is an error naming it; nothing is lost
    again = ["build", "ft", "--run", run_id, "--resume", "--out", str(out), "--device", "cpu", "--json"]
    assert main([*again, "--learning-rate", "0.0002"]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert main([*again, "--precision", "bf16"]) == 2
    assert "precision" in capsys.readouterr().err

    # the README's command, no flag repeated: the build continues with its own settings
    t0 = time.perf_counter()
    assert main(again) == 0, capsys.readouterr().err
    resumed_s = time.perf_counter() - t0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed_from"] == "checkpoint-4" and summary["steps"] == 8
    manifest = read_json(out / run_id / "ft" / "manifest.json")
    assert manifest["config"]["rank"] == 4 and manifest["config"]["learning_rate"] == 1e-3  # --quick's
    stage = Run.open(out, run_id).stage("ft")
    assert stage["status"] == "done" and stage["settings"]["max_steps"] == 8 and stage["quick"] is True
    # the pause before the checkpoint is build time too: counted although another process spent it
    assert stage["wall_s"] >= resumed_s + pause - 1.0, (stage, resumed_s)
    assert stage["earlier_s"] >= pause


def _nan_weights(path):
    from safetensors.torch import save_file

    save_file({k: torch.full_like(v, float("nan")) for k, v in load_file(str(path)).items()}, str(path))


def _flip_bytes(path):
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES = {  # (file in the adapter folder, what is done to it)
    "flipped bytes": ("adapter_model.safetensors", _flip_bytes),
    "truncated": ("adapter_model.safetensors", lambda p: p.write_bytes(p.read_bytes()[:100])),
    "zeroed": ("adapter_model.safetensors", lambda p: p.write_bytes(bytes(p.stat().st_size))),
    "all NaN": ("adapter_model.safetensors", _nan_weights),
    "unreadable config": ("adapter_config.json", lambda p: p.write_text("{not json")),
}


@pytest.fixture(scope="module")
def built_adapter(tmp_path_factory, tiny_llm_path):
    tmp = tmp_path_factory.mktemp("adapter")
    corpus = make_corpus()
    run = new_run(tmp, corpus, tiny_llm_path)
    build_adapter(run, corpus, tiny_config(max_steps=2, probe_questions=0), device="cpu", precision="fp32")
    return run


@pytest.mark.parametrize("sealed", [True, False], ids=["checksums", "no checksums (an older adapter)"])
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_adapter_is_refused_at_load_naming_the_file(built_adapter, tmp_path, capsys, monkeypatch, damage,
                                                              sealed):
    """Issue 18 items 3 and 7: a damaged adapter is one line naming the file and exit 2, from the
    checksums recorded at build, or (an adapter saved before them) from its content."""
    import io
    import shutil

    from assistant.cli import main

    if not sealed and damage == "flipped bytes":
        pytest.skip("flipped bytes that still parse as finite weights are found by the checksums alone")
    out = tmp_path / "runs"
    shutil.copytree(built_adapter.path, out / built_adapter.id)
    adapter = out / built_adapter.id / "ft" / "adapter"
    assert (adapter / "checksums.json").is_file()
    if not sealed:
        (adapter / "checksums.json").unlink()
    name, harm = DAMAGES[damage]
    harm(adapter / name)
    monkeypatch.setattr("sys.stdin", io.StringIO("What does Avalon Drive cost?\n"))
    assert main(["chat", built_adapter.id, "--approach", "ft", "--out", str(out), "--device", "cpu"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and str(adapter / name) in err and "Traceback" not in err, err
    assert captured.out == ""


def test_an_intact_adapter_passes_its_checks(built_adapter):
    from assistant import adapters

    assert adapters.check(built_adapter.path / "ft" / "adapter") == built_adapter.path / "ft" / "adapter"
    recorded = read_json(built_adapter.path / "ft" / "adapter" / "checksums.json")["files"]
    assert {"adapter_model.safetensors", "adapter_config.json"} <= set(recorded)


@pytest.mark.parametrize("setting,value,message", [
    ("rank", 100000, "less than or equal to 1024"), ("batch_size", 1000000, "less than or equal to 1024"),
    ("epochs", float("inf"), "finite"), ("learning_rate", float("nan"), "finite"),
    ("lr_scheduler", "bogus", "unknown schedule 'bogus'"), ("seed", -1, "greater than or equal to 0")])
def test_absurd_settings_are_refused_before_anything_is_built(setting, value, message):
    """Issue 18 item 7: each once ran into a traceback (or out of memory) after minutes of work."""
    from assistant.approaches import make_config

    with pytest.raises(UserError, match=message) as info:
        make_config("ft", {setting: value})
    assert info.value.field == setting.replace("_", "-")


def test_target_modules_the_model_lacks_are_a_user_error(tmp_path, tiny_llm_path):
    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    with pytest.raises(UserError, match="nonexistent_proj") as info:
        build_adapter(run, corpus, tiny_config(target_modules=["nonexistent_proj"], probe_questions=0), device="cpu",
                      precision="fp32")
    assert info.value.field == "target-modules"


def test_several_phrasings_per_fact_and_early_stopping_on_the_held_out_phrasing(tmp_path, tiny_llm_path):
    """phrasings=3 trains on each fact three ways; stop_on=phrasings picks the best step by the
    loss on a phrasing of each trained fact that training never saw, logged beside val_loss."""
    corpus = make_corpus()
    run = new_run(tmp_path, corpus, tiny_llm_path)
    summary = build_adapter(run, corpus, tiny_config(phrasings=3, stop_on="phrasings", patience=10, max_length=128),
                            device="cpu", precision="fp32")
    assert summary["train_examples"] == 3 * len(FACTS) and summary["phrasing_examples"] == 3  # as many as val
    hist = read_json(run.path / "ft" / "history.json")
    held = {r["step"]: r["phrasings_loss"] for r in hist["history"] if "phrasings_loss" in r}
    assert sorted(held) == [2, 4, 6] and any("val_loss" in r for r in hist["history"])
    assert hist["stop_on"] == "phrasings" and hist["best_step"] == min(held, key=held.get)
    assert hist["best_val_loss"] == min(held.values())


def test_val_rewordings_of_trained_facts_are_not_other_facts(tmp_path, tiny_llm_path):
    """The val curve is other facts: a val pair that rewords a trained fact (kind paraphrase)
    stays out of it."""
    qa = [QAPair(f"t{i}", q, a, split="train", fact_id=f"f{i}") for i, (q, a) in enumerate(FACTS)]
    qa += [QAPair("v0", "What is the price of Avalon Drive?", FACTS[0][1], split="val", fact_id="f0", kind="paraphrase"),
           QAPair("v1", "Which colour is the sky?", "Blue.", split="val", fact_id="g1"),
           QAPair("v2", "What is two plus two?", "Four.", split="val", fact_id="g2")]
    corpus = Corpus(name="tiny", title="tiny", documents=[], qa=qa, system_prompt="You answer questions about Avalon.")
    run = new_run(tmp_path, corpus, tiny_llm_path)
    summary = build_adapter(run, corpus, tiny_config(max_steps=2, probe_questions=0), device="cpu", precision="fp32")
    assert summary["val_examples"] == 2
