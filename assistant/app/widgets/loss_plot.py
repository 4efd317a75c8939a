"""The live loss curve of a fine-tuning build: train and validation loss against the step."""
from __future__ import annotations

from textual_plotext import PlotextPlot


class LossPlot(PlotextPlot):
    """Call `add(step, loss=..., val_loss=...)` as the trainer logs; it redraws itself."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, float]] = []

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def add(self, step: int, loss: float | None = None, val_loss: float | None = None) -> None:
        if loss is not None:
            self.train.append((step, float(loss)))
        if val_loss is not None:
            self.val.append((step, float(val_loss)))
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss")
        plt.xlabel("step")
        if self.train:
            plt.plot([s for s, _ in self.train], [v for _, v in self.train], label="train", marker="braille")
        if self.val:
            plt.plot([s for s, _ in self.val], [v for _, v in self.val], label="val", marker="braille")
        steps = [s for s, _ in self.train + self.val]
        if steps:  # whole-number step ticks; plotext would label 6.8, 12.5, ...
            lo, hi = min(steps), max(steps)
            plt.xticks(sorted({round(lo + (hi - lo) * i / 4) for i in range(5)}))
        self.refresh()
