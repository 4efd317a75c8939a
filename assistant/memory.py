"""Peak memory of one block of work (a fine-tuning build, one approach's evaluation).

`getrusage().ru_maxrss` is the process's all-time peak: in one process that builds an adapter
and then evaluates base, ft and rag, every figure after training would read the training
peak. A sampling thread gives each block its own peak resident memory instead.
"""
from __future__ import annotations

import ctypes
import gc
import threading

import psutil

INTERVAL_S = 0.02  # short enough to catch a forward pass's activations, cheap (one /proc read)


class PeakMemory:
    """`with PeakMemory() as m: ...`, then `m.figures()`: peak resident MB (and CUDA MB if used)."""

    def __init__(self):
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.peak_rss = 0
        self.peak_cuda = None

    def _sample(self) -> None:
        while True:
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
            if self._stop.wait(INTERVAL_S):
                return

    def __enter__(self) -> "PeakMemory":
        release_freed_memory()
        self.peak_rss = self._process.memory_info().rss
        if _cuda_in_use():  # otherwise CUDA starts inside the block and its peak is the block's own
            import torch

            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        if _cuda_in_use():
            import torch

            self.peak_cuda = torch.cuda.max_memory_allocated()

    def figures(self) -> dict:
        """The peak so far (inside the block) or of the whole block (after it)."""
        out = {"peak_rss_mb": round(max(self.peak_rss, self._process.memory_info().rss) / 2**20, 1)}
        if self.peak_cuda is not None:
            out["peak_cuda_mb"] = round(self.peak_cuda / 2**20, 1)
        return out


def release_freed_memory() -> None:
    """Hand freed heap back to the OS, so that resident memory is what is alive.

    glibc keeps freed heap mapped: after a few training steps of SmolLM2-135M and `del` of
    everything, RSS stayed at 3.7 GB here, and 0.4 GB after malloc_trim. Without this, every
    block after a fine-tuning build in the same process would read the training peak again.
    """
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # glibc only; elsewhere the figure includes freed heap
    except (OSError, AttributeError):
        pass


def _cuda_in_use() -> bool:
    import sys

    torch = sys.modules.get("torch")  # never import torch just to ask
    return bool(torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized())
