"""Helpers for the model tests: IceNet's layer shapes by arithmetic, tiny arrays, a legacy H5 writer.

The layer shapes are derived here from IceNet's published architecture (Andersson et al. 2021,
``unet_batchnorm`` of the paper's code), independently of :mod:`icegrad.model.icenet`, so the tests
compare two derivations rather than the code with itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from icegrad.data.land import land_mask
from icegrad.data.schema import month_starts
from icegrad.grid import ease2_grid
from icegrad.model.samples import SampleStore
from icegrad.variables import MONTHLY_VARIABLES


def icenet_layer_specs(n_channels: int, factor: float, n_leads: int = 6, n_classes: int = 3
                       ) -> tuple[list[tuple[int, int, int, int]], list[int]]:
    """Conv kernel shapes (kh, kw, in, out) and BatchNorm widths, in IceNet's creation order."""
    enc = [int(b * factor) for b in (64, 128, 256, 256, 512)]
    convs, norms = [], []
    c_in = n_channels
    for width in enc:
        convs += [(3, 3, c_in, width), (3, 3, width, width)]
        norms.append(width)
        c_in = width
    skips = [enc[3], enc[2], enc[1], enc[0]]
    for step, (base, skip) in enumerate(zip((256, 256, 128, 64), skips, strict=True)):
        width = int(base * factor)
        convs += [(2, 2, c_in, width), (3, 3, skip + width, width), (3, 3, width, width)]
        if step == 3:
            convs.append((3, 3, width, width))
        else:
            norms.append(width)
        c_in = width
    convs += [(1, 1, c_in, n_classes)] * n_leads
    return convs, norms


def legacy_layer_list(height: int, width: int, n_channels: int, n_convs: int, n_norms: int,
                      temperature: float | None) -> list[dict]:
    """The ``layers`` of a Keras 2 ``model_config`` for IceNet, named as Keras 2 auto-names them."""
    def entry(class_name: str, name: str, config: dict, inbound: list[str]) -> dict:
        nodes = [[[src, 0, 0, {}] for src in inbound]] if inbound else []
        return {"class_name": class_name, "config": {"name": name, **config}, "name": name,
                "inbound_nodes": nodes}

    layers = [entry("InputLayer", "input_1", {"batch_input_shape": [None, height, width, n_channels],
                                             "dtype": "float32", "sparse": False, "ragged": False}, [])]
    conv_names = ["conv2d"] + [f"conv2d_{i}" for i in range(1, n_convs)]
    norm_names = ["batch_normalization"] + [f"batch_normalization_{i}" for i in range(1, n_norms)]
    convs, norms = iter(conv_names), iter(norm_names)
    n_heads = n_convs - 23

    def conv(kernel: int, prev: str) -> str:
        name = next(convs)
        layers.append(entry("Conv2D", name, {"filters": 0, "kernel_size": [kernel, kernel],
                                             "padding": "same", "activation": "relu"}, [prev]))
        return name

    prev = "input_1"
    skips = []
    for level in range(5):
        prev = conv(3, conv(3, prev))
        first_block_conv = prev
        bn = next(norms)
        layers.append(entry("BatchNormalization", bn, {"axis": [3]}, [prev]))
        prev = bn
        if level < 4:
            skips.append(first_block_conv if level == 0 else bn)
            pool = "max_pooling2d" + (f"_{level}" if level else "")
            layers.append(entry("MaxPooling2D", pool, {"pool_size": [2, 2]}, [prev]))
            prev = pool
    for step, skip in enumerate(reversed(skips)):
        up = "up_sampling2d" + (f"_{step}" if step else "")
        layers.append(entry("UpSampling2D", up, {"size": [2, 2], "interpolation": "nearest"}, [prev]))
        upconv = conv(2, up)
        cat = "concatenate" + (f"_{step}" if step else "")
        layers.append(entry("Concatenate", cat, {"axis": 3}, [skip, upconv]))
        prev = conv(3, conv(3, cat))
        if step < 3:
            bn = next(norms)
            layers.append(entry("BatchNormalization", bn, {"axis": [3]}, [prev]))
            prev = bn
        else:
            prev = conv(3, prev)
    heads = [conv(1, prev) for _ in range(n_heads)]
    layers.append(entry("TFOpLambda", "tf.stack", {"function": "stack"}, heads))
    prev = "tf.stack"
    if temperature is not None:
        layers.append({"class_name": "TemperatureScale", "config": {"temp": temperature},
                       "name": "temperature_scale", "inbound_nodes": [[[prev, 0, 0, {}]]]})
        prev = "temperature_scale"
    layers.append(entry("TFOpLambda", "tf.nn.softmax", {"function": "nn.softmax"}, [prev]))
    return layers


def write_legacy_icenet_h5(path: Path, *, height: int, width: int, n_channels: int, factor: float,
                           n_leads: int = 6, temperature: float | None = 1.7, seed: int = 0,
                           ) -> dict[str, dict[str, np.ndarray]]:
    """Write a tiny IceNet in the Keras 2 ``model.save(h5)`` layout; return the weights written by layer."""
    rng = np.random.default_rng(seed)
    conv_shapes, norm_widths = icenet_layer_specs(n_channels, factor, n_leads)
    layers = legacy_layer_list(height, width, n_channels, len(conv_shapes), len(norm_widths), temperature)
    conv_iter, norm_iter = iter(conv_shapes), iter(norm_widths)
    written: dict[str, dict[str, np.ndarray]] = {}
    for layer in layers:
        if layer["class_name"] == "Conv2D":
            shape = next(conv_iter)
            layer["config"]["filters"] = shape[3]
            written[layer["name"]] = {"kernel": rng.standard_normal(shape).astype("float32"),
                                      "bias": rng.standard_normal(shape[3]).astype("float32")}
        elif layer["class_name"] == "BatchNormalization":
            c = next(norm_iter)
            written[layer["name"]] = {"gamma": rng.uniform(0.5, 1.5, c).astype("float32"),
                                      "beta": rng.standard_normal(c).astype("float32"),
                                      "moving_mean": rng.standard_normal(c).astype("float32"),
                                      "moving_variance": rng.uniform(0.5, 2.0, c).astype("float32")}
        elif layer["class_name"] == "TemperatureScale":
            written[layer["name"]] = {"temp": np.float32(temperature)}
    model_config = {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["input_1", 0, 0]],
        "output_layers": [["tf.nn.softmax", 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.4.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([layer["name"].encode("utf8") for layer in layers])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.4.0"
        for layer in layers:
            name = layer["name"]
            g = group.create_group(name)
            weights = written.get(name, {})
            # TemperatureScale's tf.Variable was created outside the layer's name scope: "temp:0".
            full = [f"{name}/{w}:0" if w != "temp" else "temp:0" for w in weights]
            g.attrs["weight_names"] = np.array([n.encode("utf8") for n in full], dtype="S")
            for full_name, value in zip(full, weights.values(), strict=True):
                g.create_dataset(full_name, data=value)
    return written


@pytest.fixture
def tiny_arrays() -> dict[str, np.ndarray]:
    """Eight 16x16 samples of 3 channels whose ice class follows channel 0, with active-cell weights."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 16, 16, 3)).astype("float32")
    sic = 1 / (1 + np.exp(-3 * x[..., 0]))
    classes = np.digitize(sic, [0.15, 0.8])
    y = np.zeros((8, 16, 16, 3, 2), dtype="float32")
    for lead in range(2):
        y[..., lead] = np.eye(3, dtype="float32")[classes]
    w = np.ones((8, 16, 16, 2), dtype="float32")
    w[:, :2] = 0  # an inactive strip
    return {"x": x, "y": y, "w": w}


@pytest.fixture
def tiny_store(tiny_arrays, tmp_path):
    """:func:`tiny_arrays` in a :class:`icegrad.model.samples.SampleStore`, as training reads them."""
    store = SampleStore(tmp_path / "tiny")
    store.append(**tiny_arrays)
    return store


@pytest.fixture
def layer_specs():
    """:func:`icenet_layer_specs`, for tests that count or shape IceNet's layers independently."""
    return icenet_layer_specs


@pytest.fixture
def legacy_h5_writer():
    """:func:`write_legacy_icenet_h5`, for tests of the Keras 2 HDF5 loader."""
    return write_legacy_icenet_h5


def make_sic_dataset(start: str = "1979-01", end: str = "1985-12", seed: int = 0) -> xr.Dataset:
    """A SIC-only monthly dataset on the 200 km grid: synthetic ice edge by latitude, season and trend."""
    rng = np.random.default_rng(seed)
    grid = ease2_grid(200)
    land = land_mask(200)
    times = month_starts(start, end).astype("datetime64[ns]")
    months = times.month.to_numpy()[:, None, None]
    years = (times.year.to_numpy() - 1979)[:, None, None]
    edge = 68.0 + 9.0 * np.cos(2 * np.pi * (months - 3) / 12) + 0.3 * years
    noise = rng.normal(0, 0.05, (len(times), 54, 54))
    sic = 1 / (1 + np.exp(-(grid["lat"].values[None] - edge) / 2.0)) + noise
    sic = np.where(land.values[None], np.nan, np.clip(sic, 0, 1)).astype("float32")
    spec = MONTHLY_VARIABLES["siconca"]
    ds = xr.Dataset(
        {"siconca": (("time", "y", "x"), sic, {"units": spec.units, "long_name": spec.long_name,
                                               "standard_name": spec.standard_name})},
        coords={**grid.coords, "time": times,
                "land": land.drop_vars([c for c in land.coords if c not in ("y", "x")])})
    ds.attrs = {"data_source": "emulated", "source": "SYNTHETIC test fixture (model tests), not observations",
                "title": "icegrad model-test dataset", "Conventions": "CF-1.8", "resolution_km": 200}
    return ds


@pytest.fixture(scope="session")
def sic_dataset() -> xr.Dataset:
    """1979-1985 SIC-only synthetic dataset (shared: copy before modifying)."""
    return make_sic_dataset()


@pytest.fixture
def sic_dataset_factory():
    """:func:`make_sic_dataset`, for tests that need the synthetic dataset over other years."""
    return make_sic_dataset
