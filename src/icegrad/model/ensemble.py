"""An IceNet ensemble: member networks plus everything needed to use them correctly later.

A trained network is useless without the normalisation it was trained with and the order of its
input channels, and unreproducible without a record of the data, splits and seeds behind it. An
:class:`IceNetEnsemble` keeps all four together and saves them as one folder:

``member_<seed>.keras`` (Keras 3 format, one per member), ``normalisation.nc`` (the statistics from
:func:`icegrad.inputs.build.fit_normalisation`) and ``manifest.json`` (channels, provenance). The
folder is written under a temporary name and renamed into place, so a crash never leaves a
half-saved ensemble that a later run would load.

Example
-------
With ``ens`` an ensemble and ``ds`` its data (see :mod:`icegrad.pipeline`), saved and read back:

>>> folder = ens.save(Path(tempfile.mkdtemp()) / "ensemble")
>>> IceNetEnsemble.load(folder)
<IceNetEnsemble: 2 member(s), 54x54 grid, 50 channels, data_source='emulated'>
>>> from icegrad.inputs.build import build_inputs
>>> inputs = build_inputs(ds, ["2013-09"], ens.stats, list(ens.channels))
>>> sip = ens.predict(inputs, mean=True).sel(**{"class": ["marginal_ice", "full_ice"]}).sum("class")
>>> dict(sip.sizes)
{'time': 1, 'y': 54, 'x': 54, 'lead': 6}
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import keras
import numpy as np
import tensorflow as tf
import xarray as xr

import icegrad
from icegrad.cache import once_per_model
from icegrad.errors import IcegradError
from icegrad.files import read_netcdf, write_netcdf
from icegrad.model.icenet import ModelShapeError, TemperatureScale, check_input_shape
from icegrad.variables import SIC_CLASSES

MANIFEST_FILE = "manifest.json"
STATS_FILE = "normalisation.nc"


class EnsembleError(IcegradError):
    """An ensemble folder or an ensemble's inputs that cannot be used as they are."""


def git_commit() -> str | None:
    """The commit of the icegrad source tree in use, or None when it is not a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def base_manifest(**fields: Any) -> dict[str, Any]:
    """A manifest with the provenance every ensemble records (version, commit, creation time) added."""
    return {
        **fields,
        "icegrad_version": icegrad.__version__,
        "git_commit": git_commit(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def architecture(model: keras.Model) -> str | None:
    """A digest of ``model``'s Keras configuration (None when Keras cannot give one): two models with the
    same one compute the same function of their weights (an ensemble's members do), so one compiled
    function can serve both. Read once per model (:func:`icegrad.cache.once_per_model`)."""
    digest = once_per_model(model, "architecture", _configuration_digest)
    return digest or None


def _configuration_digest(model: keras.Model) -> str:
    try:
        config = json.dumps(model.get_config(), sort_keys=True, default=str)
    except NotImplementedError:  # a subclassed model without get_config
        return ""
    return hashlib.sha256(config.encode()).hexdigest()


class SharedForward:
    """Forecasts of every network of one architecture through one compiled forward pass.

    Why: Keras compiles a predict function for each model on its first ``predict_on_batch`` and keeps it
    with the model (~40 MiB of traced graph per member at 100 km, measured), while an ensemble's members
    differ only in their weights. One copy of the network, compiled once, takes each member's weights
    (milliseconds) and gives the same forecasts bit for bit (measured on the book's ensemble, and tested
    against Keras' ``predict``). A network Keras cannot copy forecasts through its own ``predict_on_batch``.
    """

    def __init__(self) -> None:
        self._forwards: dict[str, tuple[keras.Model, Callable[[tf.Tensor], tf.Tensor]] | None] = {}

    def bind(self, model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
        """``model``'s forward pass on a batch. Its weights are copied now, so the function forecasts with
        the weights ``model`` has at this call, until the next ``bind`` of a network of its architecture."""
        key = architecture(model)
        forward = None if key is None else self._forward(key, model)
        if forward is None:
            return lambda x: np.asarray(model.predict_on_batch(x))
        network, function = forward
        network.set_weights(model.get_weights())
        return lambda x: function(tf.constant(x)).numpy()

    def _forward(self, key: str, model: keras.Model) -> tuple[keras.Model, Callable] | None:
        if key not in self._forwards:
            try:
                network = keras.models.clone_model(model)
            except (ValueError, TypeError):  # a custom layer that its configuration cannot rebuild
                self._forwards[key] = None
            else:
                self._forwards[key] = (network, tf.function(lambda t: network(t, training=False),
                                                            reduce_retracing=True))
        return self._forwards[key]


class IceNetEnsemble:
    """Member networks sharing one input definition (channels, grid, normalisation) and provenance."""

    def __init__(self, members: Sequence[keras.Model], stats: xr.Dataset, channels: Sequence[str],
                 manifest: dict[str, Any]) -> None:
        if not members:
            raise EnsembleError("an ensemble needs at least one member model")
        shapes = {tuple(m.input_shape[1:]) for m in members}
        if len(shapes) != 1:
            raise EnsembleError(f"members disagree on the input shape: {sorted(shapes)}; an ensemble's "
                                "members must share grid and channels")
        (shape,) = shapes
        if shape[-1] != len(channels):
            raise EnsembleError(f"members take {shape[-1]} channels but {len(channels)} channel names "
                                "were given; pass the channel list the members were trained with")
        self.members = list(members)
        self.stats = stats
        self.channels = tuple(channels)
        self.manifest = dict(manifest)
        self.forward = SharedForward()

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        y, x, c = self.members[0].input_shape[1:]
        return (f"<IceNetEnsemble: {len(self)} member(s), {y}x{x} grid, {c} channels, "
                f"data_source={self.manifest.get('data_source')!r}>")

    @property
    def member_names(self) -> list[str]:
        """Names of the members, from the manifest's seeds when known (``seed36``), else by position."""
        seeds = self.manifest.get("seeds")
        if seeds and len(seeds) == len(self.members):
            return [f"seed{s}" for s in seeds]
        return [f"member{i}" for i in range(len(self.members))]

    def _aligned(self, inputs: xr.DataArray) -> xr.DataArray:
        missing = [c for c in self.channels if c not in inputs["channel"].values]
        if missing:
            raise EnsembleError(f"inputs lack channel(s) {missing[:5]}{'...' if len(missing) > 5 else ''}; "
                                "build them with the ensemble's channel list (ensemble.channels)")
        if [str(c) for c in inputs["channel"].values] != list(self.channels):  # selecting copies the inputs
            inputs = inputs.sel(channel=list(self.channels))
        out = inputs.transpose("time", "y", "x", "channel")
        check_input_shape(self.members[0], out.shape)
        return out

    def predict(self, inputs: xr.DataArray, *, mean: bool = False, batch_size: int = 4) -> xr.DataArray:
        """Class probabilities ``(member, time, y, x, class, lead)``; ``mean=True`` averages members.

        ``inputs`` is :func:`icegrad.inputs.build.build_inputs`'s output ``(time, y, x, channel)``,
        normalised with this ensemble's statistics; channels are matched by name.
        """
        if not isinstance(inputs, xr.DataArray) or set(inputs.dims) != {"time", "y", "x", "channel"}:
            raise EnsembleError("inputs must be an xarray.DataArray with dims (time, y, x, channel), as "
                                "made by icegrad.inputs.build.build_inputs")
        aligned = self._aligned(inputs)
        values = np.asarray(aligned.values, dtype="float32")
        per_member = (forecast_in_batches(self.forward.bind(m), len(values), batch_size, values.__getitem__)
                      for m in self.members)
        if mean:  # a running sum: stacking every member's maps held members x the mean (~300 MiB at defaults)
            probs = (functools.reduce(np.add, per_member) / np.float32(len(self.members)))[np.newaxis]
        else:
            probs = np.stack(list(per_member))
        n_classes, n_leads = probs.shape[-2:]
        coords = {
            "member": ["mean"] if mean else self.member_names,
            "time": aligned["time"],
            "class": list(SIC_CLASSES[:n_classes]) if n_classes == len(SIC_CLASSES) else np.arange(n_classes),
            "lead": np.arange(1, n_leads + 1),
        }
        coords.update({name: c for name, c in aligned.coords.items()
                       if set(c.dims) <= {"y", "x"} and name != "channel"})
        out = xr.DataArray(probs, dims=("member", "time", "y", "x", "class", "lead"), coords=coords,
                           name="class_probability")
        out["lead"].attrs = {"long_name": "lead time", "units": "months"}
        out.attrs = {"units": "1", "long_name": "probability of the sea ice concentration class",
                     "data_source": str(self.manifest.get("data_source", "unknown"))}
        if mean:
            out = out.isel(member=0, drop=True)
            out.attrs["long_name"] = "ensemble-mean probability of the sea ice concentration class"
        return out

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the ensemble to ``directory`` atomically (replacing an existing one) and return it."""
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
        try:
            files = []
            for name, model in zip(self.member_names, self.members, strict=True):
                files.append(f"member_{name}.keras")
                model.save(tmp / files[-1])
            write_netcdf(self.stats, tmp / STATS_FILE)
            manifest = {**self.manifest, "channels": list(self.channels), "member_files": files}
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str))
            replace_dir(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> IceNetEnsemble:
        """Read an ensemble written by :meth:`save`."""
        folder = Path(directory)
        manifest_path = folder / MANIFEST_FILE
        if not manifest_path.is_file():
            raise EnsembleError(f"{folder} is not an icegrad ensemble folder (no {MANIFEST_FILE}); "
                                "point to a folder written by IceNetEnsemble.save or train one first")
        manifest = json.loads(manifest_path.read_text())
        members = []
        for name in manifest["member_files"]:
            if not (folder / name).is_file():
                raise EnsembleError(f"ensemble member file {folder / name} is missing; the folder is "
                                    "incomplete: delete it and train (or save) the ensemble again")
            members.append(_read(folder / name, lambda path: keras.saving.load_model(
                path, compile=False, custom_objects={"TemperatureScale": TemperatureScale})))
        stats = _read(folder / STATS_FILE, read_netcdf)
        channels = manifest.pop("channels")
        manifest.pop("member_files")
        try:
            return cls(members, stats, channels, manifest)
        except ModelShapeError as err:
            raise EnsembleError(str(err)) from None


def forecast_in_batches(predict: Callable[[np.ndarray], np.ndarray], n_rows: int, batch_size: int,
                        batch: Callable[[slice], np.ndarray]) -> np.ndarray:
    """``predict``'s outputs for ``n_rows`` inputs, ``batch(rows)`` giving each ``batch_size`` of them,
    written into one array (the rows of every batch are fixed by ``n_rows`` and ``batch_size`` alone).

    ``predict`` is a network's forward pass on one batch (:meth:`SharedForward.bind` for an ensemble's
    member). Why not ``model.predict``: it copies the whole input into a ``tf.data`` pipeline and then
    concatenates the batches' outputs, so a skill evaluation of the test years (~230 MiB of inputs at
    100 km) peaked ~440 MiB above its inputs (ch. 11, traced). The batches are the same, so are the numbers.
    Permute-and-predict passes its permuted batches through the same loop.
    """
    out: np.ndarray | None = None
    for first in range(0, n_rows, batch_size):
        rows = slice(first, min(first + batch_size, n_rows))
        values = predict(batch(rows))
        if out is None:
            out = np.empty((n_rows, *values.shape[1:]), dtype=values.dtype)
        out[rows] = values
    if out is None:
        raise EnsembleError("no inputs to forecast: the time axis is empty")
    return out


def _read(path: Path, reader: Callable[[Path], Any]) -> Any:
    """``reader(path)``, with a damaged file named as such (Keras would say "file not found" for a
    truncated ``.keras`` file that is there)."""
    try:
        return reader(path)
    except (OSError, ValueError, BadZipFile) as err:
        raise EnsembleError(f"ensemble file {path} cannot be read ({type(err).__name__}: {err}); it is "
                            "damaged: delete the folder and train (or save) the ensemble again") from None


def replace_dir(new: Path, target: Path) -> None:
    """Rename the folder ``new`` to ``target`` (how icegrad writes a folder atomically); an existing
    ``target`` is moved aside first, then deleted."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)
