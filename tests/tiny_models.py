"""Tiny random-initialised models built in-process, so unit tests of every part run in seconds.

They are saved as ordinary model folders and loaded through the same code paths as a real
local model (`load_llm(path)`, `load_embedder(path)`).
"""
from __future__ import annotations

from pathlib import Path

# SmolLM2's chat template (ChatML): the tiny model speaks the same format as the default.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_TEXT = """The quick brown fox jumps over the lazy dog. Avalon Drive costs $12 per user per month.
Refunds are available within 30 days. The tenant must give 28 days' written notice.
Error AV-1042 means the upload was too large. Sepsis bundle within 60 minutes. Yes. No. Maybe.
The documents do not say. What, when, where, who, how, why? [1] [2] [3] Sources: answer question.
""" * 4


def make_tiny_llm(folder: Path, seed: int = 0) -> Path:
    """A ~100k-parameter Llama with a byte-level BPE tokenizer and a ChatML template."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = Path(folder)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(_TEXT.splitlines(), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  unk_token="<|endoftext|>", pad_token="<|im_end|>")
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def make_tiny_embedder(folder: Path, seed: int = 0) -> Path:
    """A tiny BERT with a WordPiece tokenizer, wrapped as a sentence-transformers model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as st_models
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    raw = folder.parent / (folder.name + "-bert")
    raw.mkdir(parents=True, exist_ok=True)
    wp = BertWordPieceTokenizer(lowercase=True)
    wp.train_from_iterator(_TEXT.splitlines(), vocab_size=300, min_frequency=1)
    wp.save_model(str(raw))
    tok = BertTokenizerFast(vocab_file=str(raw / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    bert = BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64, max_position_embeddings=256))
    bert.save_pretrained(raw, safe_serialization=True)
    tok.save_pretrained(raw)
    word = st_models.Transformer(str(raw), max_seq_length=128)
    pool = st_models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(folder))
    return folder
