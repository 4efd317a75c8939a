"""Atomic file writes: a crash at any point leaves either the old file or the new one.

Every artifact of a run goes through here (temporary file in the same folder, fsync, rename).
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_with(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp_path)` to fill a temporary file, then atomically move it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: its 0600 would survive the rename. Created like a plain open() does
    # (0666 less the umask), so a team's shared runs folder stays readable.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_bytes(path, data: bytes) -> Path:
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path, rows) -> Path:
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


def read_json(path) -> Any:
    """The JSON in `path`; a file that is not JSON (truncated, zeroed, too deeply nested) or
    cannot be read is a UserError naming it. A missing file stays FileNotFoundError: callers ask."""
    from .errors import UserError

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise UserError(f"cannot read it ({e.strerror or type(e).__name__})", path=path) from None
    except json.JSONDecodeError as e:
        raise UserError(f"damaged: not valid JSON ({e.msg})", path=path, line=e.lineno) from None
    except (UnicodeDecodeError, RecursionError) as e:
        raise UserError(f"damaged: not valid JSON ({type(e).__name__})", path=path) from None


def read_jsonl(path) -> list:
    """One JSON value per non-empty line, each damaged line a UserError naming the file and line."""
    from .errors import UserError

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read it ({getattr(e, 'strerror', None) or type(e).__name__})", path=path) from None
    rows = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError) as e:
                raise UserError(f"damaged: not valid JSON ({type(e).__name__})", path=path, line=n) from None
    return rows


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_folder(folder, pattern: str = "*") -> str:
    """Hash of every file's relative name and content (sorted): identity of a model folder."""
    folder = Path(folder)
    h = hashlib.sha256()
    for p in sorted(folder.rglob(pattern)):
        if p.is_file() and not p.name.startswith("."):
            h.update(str(p.relative_to(folder)).encode())
            h.update(sha256_file(p).encode())
    return h.hexdigest()


CHECKSUMS = "checksums.json"


def write_checksums(folder) -> dict:
    """Record the sha256 and size of every file in `folder` in its checksums.json, so that a
    damaged or changed file is found when the folder is loaded (check_checksums)."""
    folder = Path(folder)
    files = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
             for p in sorted(folder.iterdir()) if p.is_file() and p.name != CHECKSUMS and not p.name.startswith(".")}
    write_json(folder / CHECKSUMS, {"files": files})
    return files


def check_checksums(folder, hint: str) -> bool:
    """A UserError naming the first file of `folder` that is missing, unreadable or not what its
    checksums.json recorded; False when the folder has no checksums.json (made before they were)."""
    from .errors import UserError

    folder = Path(folder)
    if not (folder / CHECKSUMS).exists():
        return False
    try:
        files = read_json(folder / CHECKSUMS)["files"]
        recorded = {str(name): str(f["sha256"]) for name, f in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"damaged checksums ({type(e).__name__}); {hint}", path=folder / CHECKSUMS) from None
    for name, sha in recorded.items():
        path = folder / name
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise UserError(f"missing; {hint}", path=path) from None
        except OSError as e:
            raise UserError(f"cannot read it ({e.strerror or type(e).__name__}); {hint}", path=path) from None
        if actual != sha:
            raise UserError(f"checksum mismatch: the file is damaged or was changed after it was built; {hint}",
                            path=path)
    return True


def folder_size_mb(folder) -> float | None:
    """Size on disk of every file under `folder`, in MiB (None when there is no such folder)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 2)
