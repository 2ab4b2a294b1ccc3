"""Training progress as one updating line per member: what is trained, which epoch, how many batches left.

Why a callback of our own rather than Keras's ``verbose=1``: Keras redraws its bar on stdout every
step, which notebooks and the rendered book keep as text; this writes a ``tqdm`` line to stderr (the
chapters hide stderr, terminals and notebooks redraw it in place) that names the member and epoch,
counts batches over the whole member's schedule and shows the latest training and validation loss.
"""

from __future__ import annotations

from typing import Any

import keras
from tqdm import tqdm

from icegrad.progress import bar


class EpochProgress(keras.callbacks.Callback):
    """A bar over ``epochs * steps`` batches, titled ``label`` and the current epoch."""

    def __init__(self, label: str, epochs: int, steps: int) -> None:
        super().__init__()
        self.label, self.epochs, self.steps = label, epochs, steps
        self.bar: tqdm | None = None
        self.epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.bar = bar(total=self.epochs * self.steps, desc=self.label, unit="batch", leave=True)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch
        if self.bar is not None:
            self.bar.set_description(f"{self.label}, epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # With steps_per_execution, Keras reports once per compiled call, naming its last batch.
        if self.bar is not None:
            self.bar.update(self.epoch * self.steps + batch + 1 - self.bar.n)
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None and logs:
            self.bar.set_postfix({k: f"{float(v):.4f}" for k, v in logs.items() if k.endswith("loss")})

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
