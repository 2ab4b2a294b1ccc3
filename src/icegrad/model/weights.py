"""Load the released IceNet ensemble (``network_tempscaled_<seed>.h5``, Keras 2 HDF5) into icegrad.

IceNet's release (Andersson et al. 2021; zenodo 10.5281/zenodo.5176573) ships 25 networks, seeds
36-60, saved by Keras 2's ``model.save(path.h5)``. Keras 3 cannot rebuild every Keras 2 model config
(IceNet's output uses ``tf.stack``/``tf.nn.softmax`` op layers and a custom layer whose config lacks
a name), so we do not try: we read the file with h5py, infer the network's shape from its weights, build
the same network with :func:`icegrad.model.icenet.build_icenet` and copy the weights in.

The Keras 2 HDF5 layout this reads (as written by ``tf.keras`` 2.x ``save_model``):

* root attributes ``keras_version``, ``backend`` and ``model_config`` (JSON text:
  ``{"class_name": "Functional" | "Model", "config": {"layers": [{"class_name", "name", "config",
  "inbound_nodes"}, ...], ...}}``, layers in the model's topological order);
* group ``model_weights`` with attribute ``layer_names`` (every layer, weights or not), and per layer a
  group ``model_weights/<layer>`` with attribute ``weight_names`` (e.g. ``conv2d_3/kernel:0``) whose
  datasets sit at ``model_weights/<layer>/<weight name>``, i.e. ``model_weights/conv2d_3/conv2d_3/kernel:0``.

Conv2D and BatchNormalization layers are paired with ours in IceNet's creation order
(:func:`~icegrad.model.icenet.icenet_layer_order`), the output heads being the 1x1 convolutions; every
shape is checked, so a file of another architecture fails with a message instead of loading nonsense.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import keras
import numpy as np
import xarray as xr

from icegrad.cache import file_digest
from icegrad.errors import IcegradError
from icegrad.model.ensemble import IceNetEnsemble, base_manifest
from icegrad.model.icenet import BASE_FILTERS, build_icenet, icenet_layer_order, temperature_layer
from icegrad.variables import CHANNEL_NAMES

RELEASE_SEEDS = tuple(range(36, 61))
RELEASE_FILE_PATTERN = "network_tempscaled_{seed}.h5"
RELEASE_DOI = "10.5281/zenodo.5176573"
CHECKSUM_FILE = "SHA256SUMS"
"""Optional checksum listing beside the release files; when present, every file loaded is checked."""
RELEASE_SPLITS = {"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2019)}
"""The years of the release's observational fine-tuning (Andersson et al. 2021, Methods)."""
N_BODY_CONVS = len(icenet_layer_order(0)[0])


class LegacyWeightsError(IcegradError):
    """A file that is not a Keras 2 HDF5 IceNet network, or whose weights do not fit the model."""


class MissingMemberError(LegacyWeightsError):
    """Requested ensemble members whose ``network_tempscaled_<seed>.h5`` files are not there."""


@dataclass(frozen=True)
class LegacyNetwork:
    """What a legacy file says about its network: shape, and its layers paired with ours."""

    height: int | None
    width: int | None
    n_channels: int
    filters_factor: float
    n_leads: int
    n_classes: int
    conv_layers: tuple[str, ...]
    norm_layers: tuple[str, ...]
    temperature_layer: str | None
    keras_version: str


def _text(value: bytes | str | np.ndarray) -> str:
    return value.decode("utf8") if isinstance(value, bytes | np.bytes_) else str(value)


def _layer_weights(f: h5py.File, layer: str) -> dict[str, np.ndarray]:
    """A legacy layer's weights keyed by short name (``kernel``, ``gamma``, ``temp``...)."""
    group = f["model_weights"].get(layer)
    if group is None:
        raise LegacyWeightsError(f"{f.filename}: model_weights has no group for layer {layer!r}; the file "
                                 "is damaged or was not written by Keras 2's model.save")
    out = {}
    for name in (_text(n) for n in group.attrs.get("weight_names", [])):
        short = name.rsplit("/", 1)[-1].split(":", 1)[0]
        out[short] = np.asarray(group[name][()])
    return out


def read_legacy_network(path: str | os.PathLike[str]) -> LegacyNetwork:
    """Describe the IceNet network in a Keras 2 HDF5 file; :class:`LegacyWeightsError` if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise MissingMemberError(f"{path} does not exist")
    if not h5py.is_hdf5(path):
        raise LegacyWeightsError(f"{path} is not an HDF5 file; IceNet's release networks are Keras 2 HDF5 "
                                 "files named network_tempscaled_<seed>.h5")
    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs or "model_weights" not in f:
            raise LegacyWeightsError(f"{path} is HDF5 but not a Keras 2 full-model file (no model_config "
                                     "attribute or model_weights group); save the network with "
                                     "model.save(path) in Keras 2, not save_weights")
        config = json.loads(_text(f.attrs["model_config"]))
        layers = config.get("config", {}).get("layers", [])
        kinds: dict[str, list[dict]] = {}
        for layer in layers:
            kinds.setdefault(layer.get("class_name"), []).append(layer)
        convs = kinds.get("Conv2D", [])
        heads = [c["name"] for c in convs if list(c["config"].get("kernel_size", ())) == [1, 1]]
        body = [c["name"] for c in convs if c["name"] not in heads]
        norms = [n["name"] for n in kinds.get("BatchNormalization", [])]
        expected_norms = len(icenet_layer_order(0)[1])
        if len(body) != N_BODY_CONVS or len(norms) != expected_norms or not heads:
            raise LegacyWeightsError(
                f"{path} is a Keras model but not an IceNet U-Net: it has {len(body)} 3x3/2x2 convolutions, "
                f"{len(norms)} BatchNormalization layers and {len(heads)} 1x1 output heads, where IceNet "
                f"has {N_BODY_CONVS}, {expected_norms} and one per lead")
        first = _layer_weights(f, body[0])["kernel"]
        head = _layer_weights(f, heads[0])["kernel"]
        temps = [t["name"] for t in kinds.get("TemperatureScale", [])]
        height = width = None
        inputs = kinds.get("InputLayer", [])
        if inputs:
            shape = inputs[0]["config"].get("batch_input_shape") or inputs[0]["config"].get("batch_shape")
            if shape and len(shape) == 4:
                height, width = shape[1], shape[2]
        return LegacyNetwork(
            height=height, width=width, n_channels=int(first.shape[2]),
            filters_factor=first.shape[3] / BASE_FILTERS[0], n_leads=len(heads), n_classes=int(head.shape[3]),
            conv_layers=tuple(body + heads), norm_layers=tuple(norms),
            temperature_layer=temps[0] if temps else None,
            keras_version=_text(f.attrs.get("keras_version", "unknown")),
        )


def load_legacy_member(path: str | os.PathLike[str], height: int | None = None,
                       width: int | None = None) -> keras.Model:
    """One released IceNet network as a Keras 3 model built by :func:`build_icenet`.

    ``height``/``width`` default to the file's input size (432 for the release); the network is fully
    convolutional, so the same weights also run on another grid size, e.g. 108 for a quick look.
    """
    info = read_legacy_network(path)
    height, width = height or info.height, width or info.width
    if height is None or width is None:
        raise LegacyWeightsError(f"{path} does not record its input size; pass height= and width=")
    model = build_icenet(height, width, info.n_channels, info.filters_factor, info.n_leads, info.n_classes)
    ours_conv, ours_norm = icenet_layer_order(info.n_leads)
    pairs = list(zip(info.conv_layers, ours_conv, strict=True)) + list(zip(info.norm_layers, ours_norm,
                                                                          strict=True))
    with h5py.File(path, "r") as f:
        for legacy, ours in pairs:
            _assign(model.get_layer(ours), _layer_weights(f, legacy), legacy, path)
        temperature = 1.0
        if info.temperature_layer is not None:
            values = list(_layer_weights(f, info.temperature_layer).values())
            if len(values) != 1 or np.size(values[0]) != 1:
                raise LegacyWeightsError(f"{path}: TemperatureScale layer {info.temperature_layer!r} should "
                                         f"hold one scalar weight, found {len(values)}")
            temperature = float(np.ravel(values[0])[0])
    temperature_layer(model).temperature.assign(temperature)
    return model


def _assign(layer: keras.layers.Layer, weights: dict[str, np.ndarray], legacy: str, path: Path) -> None:
    """Copy a legacy layer's weights into ``layer``, matching them by short name and checking shapes."""
    for variable in layer.weights:
        short = variable.name.rsplit("/", 1)[-1]
        if short not in weights:
            raise LegacyWeightsError(f"{path}: legacy layer {legacy!r} lacks weight {short!r} needed by "
                                     f"{layer.name!r} (it has {sorted(weights)})")
        value = weights[short]
        if tuple(value.shape) != tuple(variable.shape):
            raise LegacyWeightsError(f"{path}: weight {legacy}/{short} has shape {value.shape} but "
                                     f"{layer.name}/{short} needs {tuple(variable.shape)}; the file's "
                                     "architecture does not match IceNet's")
        variable.assign(value.astype(variable.dtype))


def release_paths(directory: str | os.PathLike[str], seeds: Iterable[int] = RELEASE_SEEDS) -> list[Path]:
    """The member files of ``seeds`` in ``directory``; :class:`MissingMemberError` lists any absent."""
    folder = Path(directory)
    paths = [folder / RELEASE_FILE_PATTERN.format(seed=s) for s in seeds]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise MissingMemberError(
            f"{len(missing)} IceNet member file(s) missing from {folder}: {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}. Download them from the IceNet release "
            f"(doi:{RELEASE_DOI}) into that folder, or pass seeds= only the members you have."
        )
    return paths


def verify_release(paths: Iterable[Path]) -> None:
    """Check release files against the folder's :data:`CHECKSUM_FILE` when there is one.

    The file is ``sha256sum``'s format (``<hex digest>  <file name>`` per line; make it with
    ``sha256sum network_tempscaled_*.h5 > SHA256SUMS`` right after downloading). A file it lists with
    another digest, or does not list, is an error naming the file; without it nothing is checked.
    """
    paths = list(paths)
    listing = paths[0].parent / CHECKSUM_FILE if paths else None
    if listing is None or not listing.is_file():
        return
    expected = {}
    for number, line in enumerate(listing.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            raise LegacyWeightsError(f"{listing}, line {number}, is not '<sha256>  <file name>': {line!r}")
        expected[name] = digest.lower()
    for path in paths:
        if path.name not in expected:
            raise LegacyWeightsError(f"{path.name} is not listed in {listing}; add its checksum "
                                     f"(sha256sum {path.name} >> {CHECKSUM_FILE}) or remove the file")
        if file_digest(path) != expected[path.name]:
            raise LegacyWeightsError(f"{path} does not match its SHA-256 in {listing}: the file is damaged "
                                     f"or another one; download it again from the IceNet release "
                                     f"(doi:{RELEASE_DOI})")


def load_icenet_release(
    directory: str | os.PathLike[str],
    seeds: Iterable[int] = RELEASE_SEEDS,
    *,
    stats: xr.Dataset | None = None,
    channels: Iterable[str] = CHANNEL_NAMES,
    height: int | None = None,
    width: int | None = None,
) -> IceNetEnsemble:
    """The released IceNet ensemble (``network_tempscaled_<seed>.h5`` in ``directory``) as an ensemble.

    The release's input normalisation is not in the network files: pass it as ``stats`` if you have
    it; inputs given to :meth:`IceNetEnsemble.predict` must be normalised the way IceNet's were.
    """
    seeds = list(seeds)
    paths = release_paths(directory, seeds)
    verify_release(paths)
    members = [load_legacy_member(p, height, width) for p in paths]
    info = read_legacy_network(paths[0])
    manifest = base_manifest(
        data_source="observed",
        source=f"IceNet release networks (doi:{RELEASE_DOI}), saved by Keras {info.keras_version}",
        seeds=seeds, filters_factor=info.filters_factor, splits=RELEASE_SPLITS,
        temperatures=[float(temperature_layer(m).temperature.numpy()) for m in members],
    )
    if stats is None:
        stats = xr.Dataset(attrs={"comment": "normalisation of the IceNet release not supplied"})
    return IceNetEnsemble(members, stats, list(channels), manifest)
