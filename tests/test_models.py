"""The model resolution and loading layer, on tiny models (and the real embedded ones, marked)."""
import numpy as np
import pytest

from assistant.errors import UserError
from assistant.hub import cache_dir
from assistant.llm import load_llm, resolve_base_model
from assistant.embed import load_embedder, resolve_embedding_model


def test_tiny_llm_generates_batched_with_left_padding(tiny_llm):
    prompts = [tiny_llm.chat_prompt("hi"), tiny_llm.chat_prompt("a much longer question about the refund policy")]
    out = tiny_llm.generate(prompts, max_new_tokens=5, batch_size=2)
    assert len(out) == 2 and all(g.new_tokens <= 5 for g in out)
    # batched and one-at-a-time greedy generation agree (left padding does not change the answer)
    single = [tiny_llm.generate([p], max_new_tokens=5)[0].text for p in prompts]
    assert [g.text for g in out] == single


def test_repetition_guard_looks_at_the_answer_only():
    import torch

    from assistant.llm import AnswerNoRepeatNGram

    guard = AnswerNoRepeatNGram(3, prompt_len=4)
    scores = torch.zeros(1, 10)
    # prompt 1 2 3 4, answer 1 2: the answer may go on to quote the prompt's "1 2 3"
    assert torch.isfinite(guard(torch.tensor([[1, 2, 3, 4, 1, 2]]), scores.clone())).all()
    # prompt 9 9 9 9, answer 5 6 7 5 6: saying "5 6 7" twice is blocked, nothing else is
    out = guard(torch.tensor([[9, 9, 9, 9, 5, 6, 7, 5, 6]]), scores.clone())
    assert out[0, 7] == -float("inf") and torch.isfinite(out[0, [i for i in range(10) if i != 7]]).all()


def test_generation_never_repeats_an_ngram_of_its_own(tiny_llm, monkeypatch):
    generated, real_generate = [], tiny_llm.model.generate

    def spy(**kw):  # the token ids, not a re-tokenised decode
        out = real_generate(**kw)
        generated.append(out[0, kw["input_ids"].shape[1]:].tolist())
        return out

    monkeypatch.setattr(tiny_llm.model, "generate", spy)
    monkeypatch.setattr(tiny_llm, "no_repeat_ngram", 2)  # strict: a random model repeats pairs without it
    tiny_llm.generate([tiny_llm.chat_prompt("hi")], max_new_tokens=40)
    ids = [i for i in generated[0] if i != tiny_llm.tokenizer.pad_token_id]
    pairs = list(zip(ids, ids[1:]))
    assert len(ids) > 10 and len(pairs) == len(set(pairs))
    monkeypatch.setattr(tiny_llm, "no_repeat_ngram", 0)
    tiny_llm.generate([tiny_llm.chat_prompt("hi")], max_new_tokens=40)
    ids = generated[1]
    assert len(set(zip(ids, ids[1:]))) < len(ids) - 1, "without the guard the random model repeats itself"


def test_a_frozen_model_projects_the_prompts_last_position_without_copying_the_vocabulary(tiny_llm_path):
    """An adapter's base weights need no gradient; torch's matmul of the strided last-position
    slice with such a weight expanded the weight per row (1.7 GB at batch 32 on SmolLM2): no
    operation may see a (rows, hidden, vocabulary) tensor."""
    from torch.profiler import ProfilerActivity, profile

    llm = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
    llm.model.requires_grad_(False)  # as PeftModel leaves the base model
    cfg = llm.model.config
    prompts = [llm.chat_prompt("word " * n) for n in (3, 9, 17, 30)]
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        llm.generate(prompts, max_new_tokens=2, batch_size=4)
    shapes = {tuple(shape) for e in prof.events() for shape in e.input_shapes if shape}
    assert (len(prompts), cfg.hidden_size, cfg.vocab_size) not in shapes


def test_chat_prompt_carries_our_system_prompt(tiny_llm):
    p = tiny_llm.chat_prompt("What?", system="You answer about Avalon.")
    assert "You answer about Avalon." in p and p.endswith("<|im_start|>assistant\n")


def test_option_logprobs_rank_options(tiny_llm):
    [scores] = tiny_llm.option_logprobs([tiny_llm.chat_prompt("yes or no?")], [["Yes", "No", "Maybe not"]])
    assert len(scores) == 3 and all(lp < 0 and n >= 1 for lp, n in scores)


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-4), ("bf16", 1e-3)])
def test_option_logprobs_share_the_prompt_and_match_full_forward_passes(tiny_llm, precision, tolerance):
    """Each prompt's KV cache is shared by its options, and prompts of different lengths share a
    left-padded batch: the same scores as one full pass per (prompt, option), compared like with
    like (bf16 autocast runs on any CPU, natively or not). Measured here: cached vs full pass
    differ by about 1e-5 in either precision; scoring the options after a cut prompt moves them
    by 0.05 to 0.12 even on this random model."""
    import dataclasses

    import torch

    from assistant.llm import autocast_for

    llm = dataclasses.replace(tiny_llm, precision=precision)
    prompts = [llm.chat_prompt("A 70-year-old and a 25-year-old called support. Who forgot the password?"),
               llm.chat_prompt("Yes or no?"),
               llm.chat_prompt("Is the free plan's storage 5 GB, as the pricing page and the help centre both say?")]
    options = [["The 70-year-old", "The 25-year-old", "Cannot be determined"], ["Yes", "No"],
               ["yes", "no", "maybe", "It depends on the plan"]]
    tok = llm.tokenizer
    expected = []
    for prompt, opts in zip(prompts, options):
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        row = []
        for opt in opts:
            o = tok(opt, add_special_tokens=False)["input_ids"]
            with torch.inference_mode(), autocast_for("cpu", precision):
                logp = torch.log_softmax(llm.model(input_ids=torch.tensor([p + o])).logits.float(), -1)[0]
            row.append(sum(logp[len(p) + j - 1, t].item() for j, t in enumerate(o)))
        expected.append(row)
    for batch_size in (1, 2, 3):
        got = [[lp for lp, _ in row] for row in llm.option_logprobs(prompts, options, batch_size=batch_size)]
        assert [len(row) for row in got] == [3, 2, 4]
        for g, e in zip(got, expected):
            assert g == pytest.approx(e, abs=tolerance)


def test_precision_resolves_from_the_hardware_and_is_recorded(tiny_llm_path, monkeypatch):
    from assistant import llm as llm_mod

    assert llm_mod.resolve_precision("fp32", "cpu") == "fp32"
    monkeypatch.setattr(llm_mod, "cpu_has_bf16", lambda: True)
    assert llm_mod.resolve_precision("auto", "cpu") == "bf16" and llm_mod.resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(llm_mod, "cpu_has_bf16", lambda: False)
    assert llm_mod.resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(UserError, match="no native bf16"):
        llm_mod.resolve_precision("bf16", "cpu")
    with pytest.raises(UserError, match="unknown precision 'fp16'"):
        llm_mod.resolve_precision("fp16", "cpu")
    assert load_llm(str(tiny_llm_path), device="cpu").precision == "fp32"  # auto, on a CPU without bf16


def test_tiny_embedder_normalised(tiny_embedder):
    v = tiny_embedder.encode(["refund policy", "upload limit", ""])
    assert v.shape == (3, tiny_embedder.dim) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:2], axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("name", ["no-such-model", "./missing/folder/x"])
def test_unknown_model_is_a_user_error(name):
    with pytest.raises(UserError, match="unknown base model"):
        resolve_base_model(name)
    with pytest.raises(UserError, match="unknown embedding model"):
        resolve_embedding_model(name)


def test_cache_dir_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "assistant"


def test_local_folder_resolves(tiny_llm_path):
    src = resolve_base_model(str(tiny_llm_path))
    assert src.kind == "local"


@pytest.mark.integration
def test_real_embedded_models_answer():
    llm = load_llm(precision="fp32")
    assert llm.source.kind == "embedded" and llm.n_params > 100_000_000
    (answer,) = llm.generate([llm.chat_prompt("What is the capital of France?")], max_new_tokens=16)
    assert "Paris" in answer.text
    emb = load_embedder()
    a, b, c = emb.encode(["How do I get a refund?", "Can I get my money back?", "The sky is blue."])
    assert a @ b > a @ c


def test_bf16_loads_bf16_weights_and_runs_them_without_autocast(tiny_llm_path, monkeypatch):
    """Autocast over fp32 weights casts every weight again at every generated token; in bf16 the
    weights themselves are bf16 and no autocast is entered."""
    import contextlib

    import torch

    from assistant import llm as llm_mod

    monkeypatch.setattr(llm_mod, "cpu_has_bf16", lambda: True)  # bf16 runs on any CPU, natively or not
    llm = llm_mod.load_llm(str(tiny_llm_path), device="cpu", precision="bf16")
    assert llm.precision == "bf16" and {p.dtype for p in llm.model.parameters()} == {torch.bfloat16}
    assert isinstance(llm_mod.autocast_for("cpu", "bf16", llm.model), contextlib.nullcontext)
    assert isinstance(llm_mod.autocast_for("cpu", "bf16"), torch.autocast)  # fp32 weights asked to run in bf16
    gen = llm.generate([llm.chat_prompt("Hello?")], max_new_tokens=4)
    assert gen[0].new_tokens > 0
    assert len(llm.option_logprobs([llm.chat_prompt("Yes or no?")], [["Yes", "No"]])[0]) == 2
