"""Run folders, their manifests, and the SQLite registry of runs (`<out>/runs.sqlite`).

A run is `<out>/<run-id>/` holding `manifest.json`, `ft/`, `rag/`, `hybrid/`, `eval/` and the
reports. The manifest records the config, the corpus fingerprint, the models, package
versions, and the status and timings of each stage; every write is atomic (files.py).
The registry is a summary of the manifests, rebuilt from them on `record()`: the manifest is
the source of truth, the registry the index the CLI and the terminal app list.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import sqlite3
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import UserError
from .files import read_json, write_json

STAGE_STATUSES = ("pending", "running", "done", "failed", "interrupted")
_PACKAGES = ("torch", "transformers", "peft", "accelerate", "sentence-transformers", "faiss-cpu", "bm25s", "ragas", "textual")


def package_versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


NAME_CHARS = 40  # the corpus name's share of a run id


def safe_name(name: str) -> str:
    """A corpus name as a piece of a run id: ASCII letters, digits, `-`, `_` and `.` (not leading),
    every other run of characters one `-`, at most NAME_CHARS long. The manifest keeps the real name."""
    text = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name))
    text = re.sub(r"-{2,}", "-", text).lstrip(".-")[:NAME_CHARS].rstrip(".-")
    return text or "corpus"


def _inside(out: Path, path: Path) -> Path:
    """`path` if it is a run folder directly in `out` (after resolving `..` and links), else a UserError."""
    if path.resolve().parent != Path(out).resolve():
        raise UserError(f"run folder {path} is outside {out} (name its runs folder with --out)")
    return path


def _this_process() -> dict:
    """Who runs a stage: pid, host and the process's start time (a reused pid is another process)."""
    import psutil

    return {"pid": os.getpid(), "host": socket.gethostname(), "started": psutil.Process().create_time()}


def _gone(process: dict | None) -> bool:
    """True when the process that marked a stage running has ended (only known on its own host)."""
    import psutil

    if not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return False
    try:
        p = psutil.Process(int(process["pid"]))
        return p.status() == psutil.STATUS_ZOMBIE or abs(p.create_time() - float(process["started"])) > 1
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def settle_stages(manifest: dict) -> dict:
    """Read a stage that says `running` whose process has ended (killed: it could not say so) as
    `interrupted`, in memory: reading a run never writes it."""
    if not isinstance(manifest, dict):
        return manifest
    for entry in (manifest.get("stages") or {}).values():
        if isinstance(entry, dict) and entry.get("status") == "running" and _gone(entry.get("process")):
            proc = entry["process"]
            entry.update(status="interrupted", note=f"process {proc['pid']} on {proc['host']} ended while it ran")
    return manifest


LOCK_FILE = ".lock"


_MANIFEST_SHAPE = {"id": str, "corpus": dict, "stages": dict, "models": dict}


def read_manifest(path: Path) -> dict:
    """A run's manifest.json, with the fields every command reads; anything else (`{}`, `[]`, a
    truncated file) is a UserError naming it."""
    try:
        manifest = read_json(path)
    except UserError as e:
        raise UserError(f"damaged manifest: {e.reason}", path=path, line=e.line) from None
    if not isinstance(manifest, dict):
        raise UserError(f"damaged manifest: a JSON {type(manifest).__name__}, not an object", path=path)
    for key, kind in _MANIFEST_SHAPE.items():
        if not isinstance(manifest.get(key), kind):
            raise UserError(f"damaged manifest: no {key} ({kind.__name__})", path=path, field=key)
    return manifest


class Run:
    def __init__(self, path: Path, manifest: dict):
        self.path = Path(path)
        self.manifest = manifest
        self._written: set[str] = set()  # the stages this object changed (save() keeps the others' from disk)

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def out(self) -> Path:
        return self.path.parent

    def dir(self, name: str) -> Path:
        d = self.path / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- create / open -----------------------------------------------------------------------
    @classmethod
    def create(cls, out: str | Path, *, corpus, config: dict, approaches: list[str], command: str,
               base_model: str | None = None, embedding_model: str | None = None) -> "Run":
        """A new run folder for `corpus`. The models are recorded by name (None: the embedded
        default), resolved the same way when the run is loaded again."""
        out = Path(out)
        run_id = f"{datetime.now():%Y%m%d-%H%M%S}-{safe_name(corpus.name)}-{secrets.token_hex(2)}"
        path = _inside(out, out / run_id)
        path.mkdir(parents=True, exist_ok=False)
        manifest = {
            "id": run_id, "command": command, "created": _now(), "corpus": {
                "name": corpus.name, "fingerprint": corpus.fingerprint, "root": str(corpus.root or ""),
                "documents": len(corpus.documents), "qa": len(corpus.qa)},
            "config": config, "approaches": approaches, "system_prompt": corpus.system_prompt,
            "models": {"base": {"name": base_model}, "embedding": {"name": embedding_model}}, "versions": package_versions(),
            "stages": {}, "headline": {}, "recommendation": None,
        }
        run = cls(path, manifest)
        run.save()
        return run

    @classmethod
    def open(cls, out: str | Path, run: str | Path) -> "Run":
        """Open a run by id (in `out`) or by its folder path; either must be a folder directly in `out`."""
        candidates = [Path(run), Path(out) / str(run)]
        for c in candidates:
            if (c / "manifest.json").is_file():
                _inside(out, c)
                return cls(c, settle_stages(read_manifest(c / "manifest.json")))
        for c in candidates:
            if c.is_dir() and c.resolve().parent == Path(out).resolve():
                raise UserError("a damaged run: its manifest.json is missing (start a new run)", path=c / "manifest.json")
        raise UserError(f"no run '{run}' in {out} (see `assistant runs list`)")

    def remove(self) -> None:
        """Delete the run: its folder and its registry row."""
        import shutil

        with self.lock():
            Registry(self.out).forget(self.id)
            shutil.rmtree(self.path, ignore_errors=True)
        _LOCKS.pop(str((self.path / LOCK_FILE).resolve()), None)

    @contextlib.contextmanager
    def removed_on_mistake(self):
        """Around the work of the command that made this run: a UserError (a bad setting, model or
        input found only once work began) while no stage is done removes the run, so a mistake
        leaves nothing half-made behind. Ctrl-C keeps it (a build resumes); so does a bug."""
        try:
            yield self
        except UserError:
            if not any(isinstance(s, dict) and s.get("status") == "done" for s in self.manifest["stages"].values()):
                self.remove()
            raise

    # -- manifest ------------------------------------------------------------------------------
    def lock(self):
        """The run's lock: held by whoever reads, changes and writes back part of the run, so two
        processes changing one run (two `build rag --add`, a build beside another) wait for each
        other instead of losing an update. Reentrant within a process."""
        return _lock(self.path / LOCK_FILE)

    def save(self) -> None:
        """Write the manifest, keeping the stages another process wrote since this one read it."""
        with self.lock():
            with contextlib.suppress(OSError, ValueError, AttributeError, TypeError, KeyError, UserError):
                on_disk = read_json(self.path / "manifest.json")["stages"]
                for name, entry in on_disk.items():
                    if name not in self._written:
                        self.manifest["stages"][name] = entry
            write_json(self.path / "manifest.json", self.manifest)
            Registry(self.out).record(self)

    @property
    def base_model(self) -> str | None:
        """The base model's name as the run records it (None: the embedded default)."""
        return self.manifest.get("models", {}).get("base", {}).get("name")

    @property
    def embedding_model(self) -> str | None:
        return self.manifest.get("models", {}).get("embedding", {}).get("name")

    def stage(self, name: str) -> dict:
        return self.manifest["stages"].get(name, {"status": "pending"})

    def set_stage(self, name: str, status: str, **info: Any) -> None:
        assert status in STAGE_STATUSES, status
        entry = self.manifest["stages"].setdefault(name, {})
        entry.update(info, status=status, updated=_now())
        self._written.add(name)
        self.save()

    def describe_stage(self, name: str, **info: Any) -> None:
        """Add to a stage's record, its status unchanged (written with the next save)."""
        self.manifest["stages"].setdefault(name, {"status": "pending"}).update(info)
        self._written.add(name)

    @contextlib.contextmanager
    def running(self, name: str, earlier_s: float = 0.0, **info: Any):
        """Mark a stage running; then done (with its wall time), interrupted or failed. `earlier_s`:
        what the earlier segments of a resumed build took, counted in its wall time."""
        t0 = time.perf_counter()
        entry = self.manifest["stages"].get(name, {})
        for stale in ("note", "earlier_s"):
            entry.pop(stale, None)
        self.set_stage(name, "running", process=_this_process(), **({"earlier_s": earlier_s} if earlier_s else {}),
                       **info)

        def wall() -> float:
            return round(time.perf_counter() - t0 + earlier_s, 2)

        try:
            yield self.manifest["stages"][name]
        except KeyboardInterrupt:
            self.set_stage(name, "interrupted", wall_s=wall())
            raise
        except BaseException as e:
            self.set_stage(name, "failed", error=str(e).splitlines()[0] if str(e) else type(e).__name__, wall_s=wall())
            raise
        self.set_stage(name, "done", wall_s=wall())


_LOCKS: dict[str, Any] = {}


def _lock(path: Path):
    """One FileLock object per lock file in this process: filelock's locks are reentrant per
    object, while a second object on the same file would wait for the first (flock is per open file)."""
    from filelock import FileLock

    key = str(path.resolve())
    if key not in _LOCKS:
        _LOCKS[key] = FileLock(key)
    return _LOCKS[key]


COLUMNS = ("id", "created", "command", "corpus", "fingerprint", "base_model", "embedding_model", "approaches",
           "stages", "headline", "recommendation", "path")


def _row(m: dict, path: Path) -> tuple:
    """A manifest as the registry's row."""
    models = m.get("models") or {}
    return (m["id"], m.get("created", ""), m.get("command", ""), m["corpus"].get("name", ""),
            m["corpus"].get("fingerprint", ""), (models.get("base") or {}).get("name") or "default",
            (models.get("embedding") or {}).get("name") or "default", json.dumps(m.get("approaches", [])),
            json.dumps({k: v.get("status") if isinstance(v, dict) else None for k, v in m["stages"].items()}),
            json.dumps(m.get("headline", {})), json.dumps(m.get("recommendation")), str(Path(path).resolve()))


BUSY_RETRIES = (0.05, 0.2, 0.5, 1.0, 2.0, None)  # pauses before each retry of a busy registry; None: give up


def _damaged(e: sqlite3.DatabaseError) -> bool:
    """A registry that is no database, or not ours; not one another process holds for a moment."""
    return not any(word in str(e).lower() for word in ("locked", "busy"))


class Registry:
    """`<out>/runs.sqlite`: one row per run. WAL mode and a busy timeout, so two processes
    writing at once wait for each other instead of corrupting it. It is an index of the run
    folders' manifests: lost or damaged (truncated, garbage, another schema), it is set aside and
    made again from them."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.path = self.out / "runs.sqlite"

    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise UserError("a folder where the registry of runs belongs: move it away (the registry is made again "
                            "from the runs)", path=self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"CREATE TABLE IF NOT EXISTS runs ({COLUMNS[0]} TEXT PRIMARY KEY, "
                        + ", ".join(f"{c} TEXT" for c in COLUMNS[1:]) + ")")
            if tuple(r[1] for r in con.execute("PRAGMA table_info(runs)")) != COLUMNS:
                raise sqlite3.DatabaseError("its runs table has other columns")
        except BaseException:
            con.close()
            raise
        return con

    def _do(self, work):
        """work(connection) in a transaction; on a damaged registry: rebuild it, then work again."""
        # The connection's 30 s busy timeout does not cover every wait: in WAL mode SQLite answers
        # "database is locked" at once, without its busy handler, in some races (a transaction
        # whose read snapshot another process's commit has made stale: SQLITE_BUSY_SNAPSHOT).
        # tests/test_runs.py's two processes recording 15 runs each met it once on a loaded
        # machine; a few short retries cover it (the failed transaction was rolled back).
        damage = ""
        for pause in BUSY_RETRIES:
            try:
                with contextlib.closing(self._connect()) as con, con:
                    return work(con)
            except sqlite3.DatabaseError as e:
                if _damaged(e):
                    damage = str(e)
                    break
                if pause is None:
                    raise UserError(f"the registry of runs is busy ({e}); try again", path=self.path) from None
                time.sleep(pause)
        self.rebuild(reason=damage)
        try:
            with contextlib.closing(self._connect()) as con, con:
                return work(con)
        except sqlite3.DatabaseError as e:
            raise UserError(f"the registry of runs cannot be used ({e})", path=self.path) from None

    def rebuild(self, reason: str = "") -> None:
        """Set the registry aside (as runs.sqlite.damaged-TIME, when there is one) and make it again
        from the manifests of the run folders beside it."""
        with _lock(self.out / ".runs.sqlite.lock"):
            if reason and self._healthy():  # another process rebuilt it meanwhile
                return
            if self.path.is_file():
                os.replace(self.path, self.path.with_name(f"runs.sqlite.damaged-{datetime.now():%Y%m%d-%H%M%S}"))
            for extra in ("-wal", "-shm"):
                self.path.with_name(self.path.name + extra).unlink(missing_ok=True)
            rows = []
            for manifest in sorted(self.out.glob("*/manifest.json")):
                with contextlib.suppress(UserError):
                    rows.append(_row(read_manifest(manifest), manifest.parent))
            with contextlib.closing(self._connect()) as con, con:
                con.executemany(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(COLUMNS))})", rows)

    def _healthy(self) -> bool:
        try:
            with contextlib.closing(self._connect()) as con:
                con.execute("SELECT count(*) FROM runs").fetchone()
            return True
        except sqlite3.DatabaseError:
            return False

    def record(self, run: Run) -> None:
        row = _row(run.manifest, run.path)
        self._do(lambda con: con.execute(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(COLUMNS))})", row))

    def forget(self, run_id: str) -> None:
        if self.path.exists():
            self._do(lambda con: con.execute("DELETE FROM runs WHERE id = ?", (run_id,)))

    def list(self) -> list[dict]:
        """The runs, newest first. A run whose folder is gone is left out; one whose manifest is gone
        is listed as damaged."""
        if not self.path.exists():
            if not any(self.out.glob("*/manifest.json")):
                return []
            self.rebuild()  # lost: the manifests still say what runs there are

        def select(con):
            con.row_factory = sqlite3.Row
            return con.execute("SELECT * FROM runs ORDER BY created DESC, id DESC").fetchall()

        out = []
        for r in self._do(select):
            d = dict(r)
            folder = Path(d["path"])
            if not folder.is_dir():
                continue
            for k in ("approaches", "stages", "headline", "recommendation"):
                with contextlib.suppress(ValueError, TypeError):
                    d[k] = json.loads(d[k]) if d[k] else None
            if not (folder / "manifest.json").is_file():
                d["damaged"] = "its manifest.json is missing"
            elif "running" in (d["stages"] or {}).values():  # the manifest knows which process runs it
                with contextlib.suppress(OSError, ValueError, AttributeError, TypeError, KeyError, UserError):
                    stages = settle_stages(read_json(folder / "manifest.json"))["stages"]
                    d["stages"] = {k: stages.get(k, {}).get("status", v) for k, v in d["stages"].items()}
            out.append(d)
        return out
