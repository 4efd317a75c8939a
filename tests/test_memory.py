"""Per-block peak memory: each block gets its own peak, not the process's all-time one."""
from assistant.memory import PeakMemory


def test_each_block_reports_its_own_peak():
    with PeakMemory() as big:
        chunks = [bytearray(64 * 1024) for _ in range(5000)]  # 320 MB in heap-sized pieces
        kept = chunks[::50]  # survivors keep the freed pages off the top of the heap: glibc keeps them
        del chunks
    with PeakMemory() as small:  # starts by handing the freed heap back
        pass
    assert len(kept) == 100
    assert big.figures()["peak_rss_mb"] - small.figures()["peak_rss_mb"] > 250
