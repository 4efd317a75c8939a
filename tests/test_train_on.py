"""`train_on`: the ft adapter can read the documents' text itself (continued pre-training), not
only the Q&A pairs; on the tiny random model, a planted sentence is learned."""
import json

import torch

from assistant.llm import load_llm
from test_finetune import make_corpus, new_run, tiny_config


def next_token_accuracy(llm, text: str) -> float:
    """Teacher-forced top-1 accuracy on a text: how much of it the model can say next. (The tiny
    model's frozen final norm bounds its logits, so its loss cannot fall far; its argmax can.)"""
    ids = llm.tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = llm.model(input_ids=ids).logits[0, :-1]
    return float((logits.argmax(-1) == ids[0, 1:]).float().mean())


def test_train_on_docs_learns_a_planted_sentence(tmp_path, tiny_llm_path):
    """`train_on docs`: the adapter reads the documents' text itself (no prompt, loss on every
    token). A sentence planted in a document is learned, a sentence it never saw is not, and the
    pairs are left out. At a learning rate of 0.02, over seeds 0-7, the planted sentence gained 87-97%
    of its next tokens and the control 0-3% (the same on a CPU forced to its AVX2 kernels:
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2). The 0.1 this test used before was past the
    stable range: its figures moved with the CPU's kernels (21% and 3% on one machine, 13% and 8%
    on another), and so did the test's outcome."""
    from assistant.approaches import ft
    from assistant.corpus import Document

    planted = "The vault code of the Avalon head office is zebra forty two."
    control = "Refunds for annual plans are paid back to the card within ten days."
    corpus = make_corpus(val=[])
    corpus.documents = [Document("vault", "Vault", planted)]
    cfg = ft.Config(**tiny_config(max_steps=60, learning_rate=0.02, rank=8, dropout=0.0, eval_steps=100,
                                  probe_questions=0).model_dump(), train_on="docs")
    base = load_llm(str(tiny_llm_path), device="cpu", precision="fp32")
    run = new_run(tmp_path, corpus, tiny_llm_path)
    summary = ft.build(run, corpus, cfg, device="cpu", precision="fp32")
    assert summary["train_examples"] == 1  # the one passage, no Q&A pair
    trained = load_llm(str(tiny_llm_path), device="cpu", precision="fp32", adapter=str(run.path / "ft" / "adapter"))
    gain = next_token_accuracy(trained, planted) - next_token_accuracy(base, planted)
    drift = next_token_accuracy(trained, control) - next_token_accuracy(base, control)
    assert gain >= 0.5 and drift <= 0.1, (gain, drift)
    sample = [json.loads(line) for line in (run.path / "ft" / "examples.sample.jsonl").read_text().splitlines()]
    assert sample[0]["prompt"] == "" and "zebra" in sample[0]["answer"]
    both = ft.Config(**tiny_config().model_dump(), train_on="docs+qa")
    assert len(ft.documents_for(corpus, both).examples(base.tokenizer)) == 1
    assert ft.documents_for(corpus, ft.Config(**tiny_config().model_dump())) is None
