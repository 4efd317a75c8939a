"""The one progress event and the one cancel token that every builder and the harness use.

A builder or the harness calls `events(Event(...))` as it goes; the CLI's bars, the app's Build
screen and the tests read the fields (never the message text) to move their bars and plots. A
person's cancel is a `threading.Event` handed to the same calls: the work stops at its next safe
point (between embedding batches, after a training step with a checkpoint, between evaluation
steps) and raises `Cancelled`, a KeyboardInterrupt, so the run's stage reads "interrupted" as
after Ctrl-C.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Event:
    """Where a stage of work is: `step` of `total` (0 of 0: no count yet)."""

    stage: str  # the approach being built ("rag", "ft", ...), or "eval"
    step: int = 0
    total: int = 0
    message: str = ""  # for people; code reads the fields
    phase: str = ""  # what the stage is doing: probe, train, eval, done for training; the approach for "eval"
    figures: dict = field(default_factory=dict)  # loss, val_loss, epoch, eta_s, ...


Events = Callable[[Event], None]


def no_events(event: Event) -> None:
    """The default listener: nobody is watching."""


class Cancelled(KeyboardInterrupt):
    """The work stopped because its cancel token was set."""


def check(cancel: threading.Event | None) -> None:
    """Raise Cancelled once `cancel` is set (call it at a point where stopping is safe)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()
