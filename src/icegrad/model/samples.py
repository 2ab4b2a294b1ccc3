"""Training samples on disk: built once in small chunks, streamed back a batch at a time.

Why: a split held in memory costs samples x cells x (50 input channels + 18 one-hot targets + 6
weights) floats - 1.3 GB for the 100 km training years, then TensorFlow copies it - and it grows
with every year added (the book's ensemble peaked at 9.0 GB). Here the samples of a split are built
from the xarray dataset a few start months at a time (:func:`icegrad.inputs.build.build_inputs`,
:func:`icegrad.inputs.labels.build_targets`, exactly as for one big call), appended to flat files in
a scratch directory, and read back by a ``tf.data`` pipeline: memory holds one chunk while building
and a few batches while training, whatever the number of years. They are built once per training,
for every member and epoch, so streaming costs no recomputation; the scratch directory (under
``TMPDIR``) takes the split's size on disk instead, about 1.3 GB for the book's 100 km splits.
Inputs and weights stay float32 and the 0/1 targets are stored as uint8, so the network sees bit for
bit what ``build_inputs`` returns.

The shuffle permutes sample *indices* with TensorFlow's seeded shuffle over the whole split (a buffer
of integers, not of samples): the order is the one the former in-memory pipeline drew for a seed.

Example
-------
>>> import tempfile
>>> x, y, w = np.zeros((3, 4, 4, 2)), np.zeros((3, 4, 4, 3, 1)), np.ones((3, 4, 4, 1))
>>> with tempfile.TemporaryDirectory() as scratch:
...     store = SampleStore(Path(scratch))
...     store.append(x, y, w)
...     [tuple(batch[0].shape) for batch in store.dataset(2, shuffle=True, seed=0)]
[(2, 4, 4, 2), (1, 4, 4, 2)]
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf
import xarray as xr
from tqdm import tqdm

from icegrad.errors import IcegradError
from icegrad.inputs import build as network_inputs

CHUNK_STARTS = 12
"""Start months built per call while filling a store: one year, ~100 MB of transient arrays at 100 km."""


class SampleError(IcegradError):
    """Training samples that disagree with each other or with the store they are added to."""


class ArrayFile:
    """An append-only flat file of equally shaped records, read back by index without memory-mapping.

    Why not ``np.memmap``: pages of a mapped file count in the process's resident memory once read,
    so one epoch would map the whole split in again; ``readinto`` copies just the records asked for.
    """

    def __init__(self, path: Path, dtype: str) -> None:
        self.path, self.dtype = path, np.dtype(dtype)
        self.record_shape: tuple[int, ...] | None = None
        self.count = 0

    def append(self, records: np.ndarray) -> None:
        """Add ``records`` (n, *record_shape); the first call fixes the record shape."""
        if self.record_shape is None:
            self.record_shape = tuple(records.shape[1:])
        if tuple(records.shape[1:]) != self.record_shape:
            raise SampleError(f"records of shape {records.shape[1:]} cannot join {self.path.name}, whose "
                              f"records are {self.record_shape}; build every chunk on the same grid")
        try:
            with self.path.open("ab") as f:
                f.write(np.ascontiguousarray(records, dtype=self.dtype).tobytes())
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            raise SampleError(f"no disk space left in {self.path.parent} for the training samples "
                              f"({self.count} written); free some, or set TMPDIR to a larger disk") from None
        self.count += len(records)

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The records at ``indices``, in that order, as one array."""
        shape = self.record_shape or ()
        out = np.empty((len(indices), *shape), dtype=self.dtype)
        size = out[0].nbytes if len(out) else 0
        with self.path.open("rb") as f:
            for k, i in enumerate(indices):
                f.seek(int(i) * size)
                f.readinto(memoryview(out[k]).cast("B"))
        return out


class SampleStore:
    """Inputs ``(n, y, x, channel)``, one-hot targets ``(n, y, x, class, lead)`` and sample weights
    ``(n, y, x, lead)`` in a directory, checked for agreement as they arrive, so a mix-up fails here and
    not deep inside Keras."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.x = ArrayFile(directory / "inputs.f32", "float32")
        self.y = ArrayFile(directory / "targets.u8", "uint8")
        self.w = ArrayFile(directory / "weights.f32", "float32")

    def __len__(self) -> int:
        return self.x.count

    def append(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Add samples; they must describe the same samples, grid and leads as each other."""
        if x.ndim != 4 or y.ndim != 5 or w.ndim != 4:
            raise SampleError(f"expected x (n, y, x, channel), targets (n, y, x, class, lead) and weights "
                              f"(n, y, x, lead); got shapes {x.shape}, {y.shape}, {w.shape}")
        same_n = len(y) == len(w) == len(x)
        if not same_n or y.shape[1:3] != x.shape[1:3] or w.shape != y.shape[:3] + y.shape[4:]:
            raise SampleError(f"inputs {x.shape}, targets {y.shape} and weights {w.shape} do not describe "
                              "the same samples, grid and leads")
        if not np.isin(y, (0, 1)).all():
            raise SampleError("targets must be one-hot (0 or 1); pass the 'targets' of build_targets")
        self.x.append(x)
        self.y.append(y)
        self.w.append(w)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(y, x, channel)`` of one sample."""
        return self._shape(self.x)

    @property
    def target_shape(self) -> tuple[int, ...]:
        """``(y, x, class, lead)`` of one sample."""
        return self._shape(self.y)

    def _shape(self, part: ArrayFile) -> tuple[int, ...]:
        if part.record_shape is None:
            raise SampleError(f"the sample store in {self.directory} is empty: add samples before reading")
        return part.record_shape

    def read(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs, targets and weights of the samples at ``indices``, as float32."""
        return self.x.read(indices), self.y.read(indices).astype(np.float32), self.w.read(indices)

    def chunks(self, size: int = CHUNK_STARTS) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every sample in order, ``size`` at a time."""
        for first in range(0, len(self), size):
            yield self.read(np.arange(first, min(first + size, len(self))))

    def dataset(self, batch_size: int, *, shuffle: bool, seed: int) -> tf.data.Dataset:
        """Batched ``(x, y, w)``, read from disk a batch at a time; shuffled reproducibly for a seed when
        ``shuffle``."""
        self._shape(self.x)
        indices = tf.data.Dataset.range(len(self))
        if shuffle:
            indices = indices.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        shapes = [(None, *self.input_shape), (None, *self.target_shape), (None, *self.target_shape[:2],
                                                                          self.target_shape[3])]

        def load(batch: tf.Tensor) -> tuple[tf.Tensor, ...]:
            parts = tf.numpy_function(self.read, [batch], (tf.float32,) * 3, stateful=False)
            for part, shape in zip(parts, shapes, strict=True):
                part.set_shape(shape)
            return tuple(parts)

        return indices.batch(batch_size).map(load).prefetch(2)


def build_store(ds: xr.Dataset, starts: pd.DatetimeIndex, stats: xr.Dataset, destination: Path | SampleStore,
                *, channels: Sequence[str], n_leads: int, train_years: tuple[int, int],
                label: str = "", verbose: bool = False) -> SampleStore:
    """The samples of ``starts`` in a new store in directory ``destination``, or appended to the store
    ``destination`` (several datasets' samples in one), built ``CHUNK_STARTS`` at a time (a progress bar
    if ``verbose``).

    ``train_years`` defines the targets' active-cell masks: the years the network is trained on.
    """
    store = destination if isinstance(destination, SampleStore) else SampleStore(destination)
    first_chunks = range(0, len(starts), CHUNK_STARTS)
    for first in tqdm(first_chunks, desc=f"building {label} samples".replace("  ", " "), unit="chunk",
                      disable=not verbose, leave=False):
        chunk = starts[first:first + CHUNK_STARTS]
        x = network_inputs.build_inputs(ds, chunk, stats, list(channels))
        targets = network_inputs.build_targets(ds, chunk, n_leads=n_leads, train_years=train_years)
        store.append(x.transpose("time", "y", "x", "channel").values,
                     targets["targets"].transpose("time", "y", "x", "class", "lead").values,
                     targets["sample_weight"].transpose("time", "y", "x", "lead").values)
    return store
