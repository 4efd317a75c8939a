"""Where a model comes from: the embedded default, a local folder, or a Hugging Face hub id.

Nothing is downloaded unless the user names a hub model: everything else runs with
HF_HUB_OFFLINE=1, so a missing file is a clear error instead of a silent download attempt.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    name: str  # what the user asked for (or the default's name)
    kind: str  # "embedded" | "local" | "hub"
    path: str  # folder (embedded, local) or hub id

    def describe(self) -> str:
        return {"embedded": f"embedded default ({self.path})", "local": f"local folder {self.path}",
                "hub": f"Hugging Face hub id {self.path}"}[self.kind]


def cache_dir() -> Path:
    """The user's cache for converted models (XDG_CACHE_HOME respected)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "assistant"


def set_offline(offline: bool) -> None:
    """Set HF_HUB_OFFLINE, also in huggingface_hub if it was already imported."""
    os.environ["HF_HUB_OFFLINE"] = "1" if offline else "0"
    try:
        import huggingface_hub.constants as c
        c.HF_HUB_OFFLINE = offline
    except ImportError:  # pragma: no cover - always installed with transformers
        pass


def resolve(name: str, *, aliases: tuple[str, ...], embedded, what: str) -> ModelSource:
    """Resolve `name`: one of `aliases` -> embedded (via `embedded()`), a folder, or a hub id."""
    if name.lower() in {a.lower() for a in aliases}:
        return ModelSource(name, "embedded", str(embedded()))
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{what} '{name}' is a file; give a model folder", path=None)
        return ModelSource(name, "local", str(path.resolve()))
    if _HUB_ID.match(name):
        set_offline(False)
        return ModelSource(name, "hub", name)
    raise UserError(f"unknown {what} '{name}': not the embedded default ({aliases[0]}), "
                    f"not an existing folder, not a Hugging Face id (owner/name)")


def check_folder(source: ModelSource, what: str) -> ModelSource:
    """Read a local model folder's config and its weights' headers (seconds at most, no weights
    loaded), so that a folder that is no model fails before a run is made for it."""
    if source.kind != "local":
        return source
    folder = Path(source.path)
    if not (folder / "config.json").is_file():
        raise UserError(f"{what} '{source.name}' is not a model folder: it has no config.json", path=folder)
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(str(folder))
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise UserError(f"{what} '{source.name}': transformers cannot read its config ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:100] if str(e) else ''})", path=folder / "config.json") from None
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:  # models load from safetensors only (a pickled .bin could run code)
        raise UserError(f"{what} '{source.name}' has no .safetensors weights", path=folder)
    from safetensors import SafetensorError, safe_open

    for path in weights:
        try:
            with safe_open(str(path), framework="pt") as f:
                f.keys()
        except (SafetensorError, OSError) as e:
            raise UserError(f"{what} '{source.name}': damaged weights ({str(e).splitlines()[0][:100]})",
                            path=path) from None
    return source


def quiet_libraries() -> None:
    """Keep the libraries' own progress bars and advice out of our output."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    # pypdf logs each repair of a damaged PDF ("incorrect startxref pointer") ahead of our own lines
    for name in ("transformers", "sentence_transformers", "huggingface_hub", "peft", "accelerate", "pypdf"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
