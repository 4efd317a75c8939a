"""Where a model comes from: the embedded default, a local folder, or a Hugging Face hub id.

Nothing is downloaded unless the user names a hub model: everything else runs with
HF_HUB_OFFLINE=1, so a missing file is a clear error instead of a silent download attempt.
A hub model that is not in the local cache is fetched only when the hub answers at once (one
try, HUB_TIMEOUT_S) and the user did not set HF_HUB_OFFLINE; otherwise it is one line at once,
not a minute of the hub client's retries.
"""
from __future__ import annotations

import functools
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
HUB_TIMEOUT_S = 3.0  # how long the hub has to answer before we call the machine offline (one try)
_user_offline: bool | None = None  # HF_HUB_OFFLINE as the user set it, before default_offline() (None: not read)


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


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}  # as huggingface_hub reads it


def default_offline() -> None:
    """HF_HUB_OFFLINE=1 unless the user set it (at the start of a command); whether they set it is
    kept, because from here on the variable is ours."""
    global _user_offline
    _user_offline = _truthy(os.environ.get("HF_HUB_OFFLINE"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def offline_by_user() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) if _user_offline is None else _user_offline


@functools.lru_cache(maxsize=None)
def hub_reachable(endpoint: str) -> bool:
    """Whether the hub at `endpoint` answers within HUB_TIMEOUT_S: one request, no retries. In a
    thread, so that a name lookup that hangs is bounded too."""
    import urllib.error
    import urllib.request

    answered = []

    def probe():
        # the standard library, not the hub client: that one refuses every request while HF_HUB_OFFLINE is set
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_TIMEOUT_S).close()
            answered.append(True)
        except urllib.error.HTTPError as e:  # an answer, if not a welcome one
            answered.append(e.code < 500)
        except Exception:  # no answer: name lookup, connection or timeout
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(HUB_TIMEOUT_S)
    return bool(answered and answered[0])


def _in_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # an id the hub client refuses is not cached
        return False


def _fetch_from_hub(name: str, what: str) -> bool:
    """Whether hub id `name` is fetched from the hub (True) or read from the local cache (False);
    a UserError at once when neither can work."""
    from huggingface_hub import constants

    offline = offline_by_user()
    online = not offline and hub_reachable(constants.ENDPOINT)
    if online or _in_cache(name):
        return online
    if offline:
        raise UserError(f"HF_HUB_OFFLINE is set and {what} '{name}' is not in the Hugging Face cache: give a local "
                        f"folder or the embedded default")
    raise UserError(f"cannot reach the Hugging Face hub to fetch {what} '{name}' (offline?): give a local folder "
                    f"or the embedded default")


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
        set_offline(not _fetch_from_hub(name, what))
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
