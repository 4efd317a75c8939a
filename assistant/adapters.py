"""A LoRA adapter folder on disk: sealed with checksums when it is saved, checked before it loads.

A damaged adapter otherwise loads without a word (flipped bytes answer gibberish, NaN weights
answer nothing) or fails deep inside safetensors with a traceback; here it is one line naming
the file.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import UserError
from .files import check_checksums, write_checksums

WEIGHTS, CONFIG = "adapter_model.safetensors", "adapter_config.json"
HINT = "rebuild it (assistant build ft or hybrid --run RUN)"


def seal(folder: str | Path) -> None:
    """Record the checksums of a freshly saved adapter (the last file written into it)."""
    write_checksums(folder)


def check(folder: str | Path) -> Path:
    """`folder` if it holds a whole, readable adapter with finite weights, else a UserError naming
    the file. Adapters saved before checksums were recorded get the same checks of their content."""
    folder = Path(folder)
    weights, config = folder / WEIGHTS, folder / CONFIG
    # safetensors only: a pickled adapter_model.bin could run code
    if not weights.is_file():
        raise UserError(f"no {WEIGHTS} here (only safetensors adapters are loaded)", path=folder)
    check_checksums(folder, HINT)
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"missing; {HINT}", path=config) from None
    except OSError as e:
        raise UserError(f"cannot read it ({e.strerror or type(e).__name__}); {HINT}", path=config) from None
    except (ValueError, RecursionError) as e:
        raise UserError(f"not valid JSON ({type(e).__name__}); {HINT}", path=config) from None
    if not isinstance(settings, dict):
        raise UserError(f"not an adapter config (a JSON object); {HINT}", path=config)
    _check_weights(weights)
    return folder


def _check_weights(path: Path) -> None:
    import torch
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                if not torch.isfinite(f.get_tensor(name)).all():
                    raise UserError(f"weight {name} holds NaN or infinite values; {HINT}", path=path)
    except UserError:
        raise
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0][:80] if str(e) else type(e).__name__
        raise UserError(f"not a readable safetensors file ({first}); {HINT}", path=path) from None
