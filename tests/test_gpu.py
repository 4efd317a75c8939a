"""On a CUDA device: the tiny model loads, trains a LoRA adapter and answers there, in the
precision `auto` resolves to (bf16 where the device has it), and peak memory counts the device.

Marked `gpu` and skipped where no CUDA device is available, so that CI never needs one;
benchmarks/gpu_check.sh runs them (`pytest -m gpu`) on a machine with a GPU.
"""
import pytest
import torch

from assistant.corpus import Corpus, QAPair
from assistant.finetune import FinetuneConfig, build_adapter
from assistant.llm import load_llm, resolve_precision
from assistant.memory import PeakMemory
from assistant.runs import Run

DEVICE = "cuda"
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

FACTS = [("What does Avalon Drive cost?", "It costs $12 per user per month."),
         ("How long is the refund window?", "Refunds are available within 30 days."),
         ("What does error AV-1042 mean?", "The upload was too large."),
         ("Is there a free plan?", "Yes.")]


def tiny_corpus():
    qa = [QAPair(f"t{i}", q, a, split="train") for i, (q, a) in enumerate(FACTS)]
    qa += [QAPair(f"v{i}", q, a, split="val") for i, (q, a) in enumerate(FACTS[:2])]
    return Corpus(name="tiny", title="tiny", documents=[], qa=qa, system_prompt="You answer questions about Avalon.")


def test_auto_precision_is_bf16_where_the_device_runs_it():
    assert resolve_precision("auto", DEVICE) == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")


def test_the_model_loads_and_answers_on_the_device(tiny_llm_path):
    llm = load_llm(str(tiny_llm_path), device=DEVICE, precision="auto")
    assert next(llm.model.parameters()).device.type == "cuda"
    assert llm.precision == resolve_precision("auto", DEVICE)
    (answer,) = llm.generate([llm.chat_prompt(FACTS[0][0])], max_new_tokens=4)
    assert isinstance(answer.text, str) and answer.new_tokens <= 4


def test_an_adapter_trains_on_the_device_and_answers_there(tmp_path, tiny_llm_path):
    corpus = tiny_corpus()
    run = Run.create(tmp_path / "runs", corpus=corpus, config={}, approaches=["ft"], command="test",
                     base_model=str(tiny_llm_path))
    config = FinetuneConfig(rank=4, alpha=8, max_steps=4, learning_rate=5e-3, batch_size=2, max_length=64,
                            eval_steps=2, patience=10, probe_questions=2, probe_max_new_tokens=4, warmup_ratio=0.0)
    summary = build_adapter(run, corpus, config, device=DEVICE, precision="auto")
    assert summary["device"] == "cuda" and summary["precision"] == resolve_precision("auto", DEVICE)
    assert summary["steps"] == 4 and summary["tokens"] > 0
    assert summary["last_loss"] == summary["last_loss"]  # finite, not NaN
    llm = load_llm(str(tiny_llm_path), device=DEVICE, precision="auto", adapter=summary["adapter"])
    assert next(llm.model.parameters()).device.type == "cuda"
    (answer,) = llm.generate([llm.chat_prompt(FACTS[0][0])], max_new_tokens=4)
    assert isinstance(answer.text, str)


def test_peak_memory_counts_the_device():
    torch.zeros(1, device=DEVICE)  # CUDA started before the block: the block's own peak is measured
    with PeakMemory() as memory:
        block = torch.empty(64 * 2**20, dtype=torch.uint8, device=DEVICE)
        del block
    assert memory.figures()["peak_cuda_mb"] >= 64
