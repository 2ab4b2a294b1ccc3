"""Loading IceNet's released Keras 2 HDF5 networks, on tiny files the tests write in that layout."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.icenet import temperature_layer
from icegrad.model.weights import (
    LegacyWeightsError,
    MissingMemberError,
    load_icenet_release,
    load_legacy_member,
    read_legacy_network,
)

SIDE, CHANNELS, FACTOR = 16, 5, 0.0625

# Legacy Keras 2 names (auto-numbered in IceNet's creation order) and the icegrad layers they must land in.
EXPECTED_PAIRS = {
    "conv2d": "enc1_conv1", "conv2d_1": "enc1_conv2", "conv2d_9": "enc5_conv2",
    "conv2d_10": "dec4_upconv", "conv2d_11": "dec4_conv1", "conv2d_19": "dec1_upconv",
    "conv2d_22": "dec1_conv3", "conv2d_23": "lead1_logits", "conv2d_28": "lead6_logits",
    "batch_normalization": "enc1_bn", "batch_normalization_4": "enc5_bn", "batch_normalization_5": "dec4_bn",
    "batch_normalization_7": "dec2_bn",
}


@pytest.fixture
def legacy_file(tmp_path, legacy_h5_writer):
    path = tmp_path / "network_tempscaled_36.h5"
    written = legacy_h5_writer(path, height=SIDE, width=SIDE, n_channels=CHANNELS, factor=FACTOR)
    return path, written


def test_legacy_file_is_described_correctly(legacy_file):
    path, _ = legacy_file
    info = read_legacy_network(path)
    assert (info.height, info.width, info.n_channels) == (SIDE, SIDE, CHANNELS)
    assert info.filters_factor == FACTOR and info.n_leads == 6 and info.n_classes == 3
    assert info.conv_layers[0] == "conv2d" and info.conv_layers[-1] == "conv2d_28"
    assert info.temperature_layer == "temperature_scale" and info.keras_version == "2.4.0"


def test_weights_land_in_the_matching_layers(legacy_file):
    path, written = legacy_file
    model = load_legacy_member(path)
    for legacy, ours in EXPECTED_PAIRS.items():
        layer = model.get_layer(ours)
        for variable in layer.weights:
            short = variable.name.rsplit("/", 1)[-1]
            np.testing.assert_array_equal(np.asarray(variable), written[legacy][short],
                                          err_msg=f"{legacy} -> {ours}")
    assert float(temperature_layer(model).temperature.numpy()) == pytest.approx(1.7)
    # Every array written was loaded somewhere: the loaded weights are exactly the written ones.
    loaded = sorted(float(np.asarray(w).sum()) for w in model.weights)
    expected = sorted(float(np.sum(v)) for layer in written.values() for v in layer.values())
    np.testing.assert_allclose(loaded, expected, rtol=1e-6)


def test_the_same_weights_run_on_another_grid(legacy_file):
    path, _ = legacy_file
    model = load_legacy_member(path, height=54, width=54)
    out = np.asarray(model(np.zeros((1, 54, 54, CHANNELS), dtype="float32")))
    assert out.shape == (1, 54, 54, 3, 6)


def test_network_without_temperature_scaling_loads_with_unit_temperature(tmp_path, legacy_h5_writer):
    path = tmp_path / "network_36.h5"
    legacy_h5_writer(path, height=SIDE, width=SIDE, n_channels=CHANNELS, factor=FACTOR, temperature=None)
    assert float(temperature_layer(load_legacy_member(path)).temperature.numpy()) == 1.0


def test_release_folder_becomes_an_ensemble(tmp_path, legacy_h5_writer):
    for seed in (36, 37):
        legacy_h5_writer(tmp_path / f"network_tempscaled_{seed}.h5", height=SIDE, width=SIDE,
                         n_channels=CHANNELS, factor=FACTOR, seed=seed)
    ensemble = load_icenet_release(tmp_path, seeds=[36, 37], channels=[f"c{i}" for i in range(CHANNELS)])
    assert isinstance(ensemble, IceNetEnsemble) and len(ensemble) == 2
    assert ensemble.member_names == ["seed36", "seed37"]
    assert ensemble.manifest["temperatures"] == pytest.approx([1.7, 1.7])
    first = [np.asarray(w) for w in ensemble.members[0].weights]
    second = [np.asarray(w) for w in ensemble.members[1].weights]
    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_missing_members_are_named_with_the_fix(tmp_path, legacy_h5_writer):
    legacy_h5_writer(tmp_path / "network_tempscaled_36.h5", height=SIDE, width=SIDE, n_channels=CHANNELS,
                     factor=FACTOR)
    with pytest.raises(MissingMemberError, match=r"network_tempscaled_37\.h5.*seeds="):
        load_icenet_release(tmp_path, seeds=[36, 37])


def test_not_hdf5_is_reported(tmp_path):
    path = tmp_path / "network_tempscaled_36.h5"
    path.write_text("<html>404 Not Found</html>")
    with pytest.raises(LegacyWeightsError, match="not an HDF5 file"):
        load_legacy_member(path)


def test_weights_only_or_foreign_models_are_reported(tmp_path, legacy_file):
    plain = tmp_path / "weights_only.h5"
    with h5py.File(plain, "w") as f:
        f.attrs["layer_names"] = np.array([b"dense"])
    with pytest.raises(LegacyWeightsError, match="not a Keras 2 full-model file"):
        read_legacy_network(plain)
    path, _ = legacy_file
    with h5py.File(path, "r+") as f:  # drop a BatchNorm from the config: no longer IceNet's U-Net
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"] = [
            layer for layer in config["config"]["layers"] if layer["name"] != "batch_normalization_3"]
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
    with pytest.raises(LegacyWeightsError, match="not an IceNet U-Net"):
        read_legacy_network(path)


def test_mismatched_shapes_are_reported(legacy_file):
    path, _ = legacy_file
    with h5py.File(path, "r+") as f:
        group = f["model_weights/conv2d_11"]
        del group["conv2d_11/kernel:0"]
        group.create_dataset("conv2d_11/kernel:0", data=np.zeros((3, 3, 7, 4), dtype="float32"))
    with pytest.raises(LegacyWeightsError, match=r"conv2d_11/kernel has shape \(3, 3, 7, 4\)"):
        load_legacy_member(path)


@pytest.mark.slow
def test_icenet_chapter_runs_on_release_weights(tmp_path, legacy_h5_writer, monkeypatch):
    """Chapter 4 with ``weights=``: a release has no training record, and the chapter says so."""
    import nbformat

    from icegrad import book

    release = tmp_path / "release"
    release.mkdir()
    for seed in (36, 37):
        legacy_h5_writer(release / f"network_tempscaled_{seed}.h5", height=SIDE, width=SIDE, n_channels=50,
                         factor=FACTOR, seed=seed)
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    root = book.repository_root()
    # the observed comparison trains SIC-only networks of its own, which this release-path test does not need
    parameters = {"resolution_km": 200, "members": 2, "weights": str(release), "observed_source": ""}
    output = book.execute_chapter(book.find_chapter(root, "04"), tmp_path / "run" / "04.ipynb", parameters,
                                  progress=False)
    executed = nbformat.read(output, as_version=4)
    assert "error" not in [o.get("output_type") for c in executed.cells for o in c.get("outputs", [])]
    glued = output.read_text()  # glue() keeps its values in the executed notebook's outputs
    assert "the release records no training history" in glued and "trained by IceNet" in glued
