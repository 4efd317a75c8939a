"""Per-block peak memory: each block gets its own peak, not the process's all-time one."""
import numpy as np

from assistant.memory import PeakMemory


def test_each_block_reports_its_own_peak():
    with PeakMemory() as big:
        block = np.ones(400 * 2**20 // 8)  # 400 MB, touched
        del block
    with PeakMemory() as small:
        np.ones(1000).sum()
    assert big.figures()["peak_rss_mb"] - small.figures()["peak_rss_mb"] > 300
