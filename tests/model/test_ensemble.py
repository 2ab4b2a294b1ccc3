"""IceNetEnsemble: predict layout and mean, atomic save/load round trip, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from icegrad.model.ensemble import MANIFEST_FILE, EnsembleError, IceNetEnsemble, SharedForward
from icegrad.model.icenet import ModelShapeError, build_icenet, temperature_layer

CHANNELS = ("siconca_abs_1", "siconca_linear_trend_1", "land")


def make_inputs(n_time: int = 2, side: int = 16, channels=CHANNELS) -> xr.DataArray:
    values = np.random.default_rng(0).random((n_time, side, side, len(channels))).astype("float32")
    return xr.DataArray(values, dims=("time", "y", "x", "channel"), coords={
        "time": np.array(["2019-01-01", "2019-02-01"][:n_time], dtype="datetime64[ns]"),
        "channel": list(channels), "y": np.arange(side)[::-1] * 1.0, "x": np.arange(side) * 1.0})


@pytest.fixture(scope="module")
def ensemble() -> IceNetEnsemble:
    members = [build_icenet(16, 16, 3, filters_factor=0.0625, n_leads=2, seed=s) for s in (36, 37)]
    temperature_layer(members[1]).temperature.assign(1.5)
    stats = xr.Dataset({"tas_mean": xr.DataArray(250.0, attrs={"units": "K", "long_name": "mean"})})
    manifest = {"data_source": "emulated", "seeds": [36, 37], "filters_factor": 0.0625}
    return IceNetEnsemble(members, stats, CHANNELS, manifest)


def test_predict_layout_coordinates_and_mean(ensemble):
    probs = ensemble.predict(make_inputs())
    assert probs.dims == ("member", "time", "y", "x", "class", "lead")
    assert list(probs["member"].values) == ["seed36", "seed37"]
    assert list(probs["class"].values) == ["open_water", "marginal_ice", "full_ice"]
    assert list(probs["lead"].values) == [1, 2]
    assert probs.attrs["units"] == "1" and "long_name" in probs.attrs
    np.testing.assert_allclose(probs.sum("class"), 1.0, atol=1e-5)
    # Members differ (other seeds), and the mean is their average.
    assert not np.allclose(probs.isel(member=0), probs.isel(member=1))
    mean = ensemble.predict(make_inputs(), mean=True)
    assert "member" not in mean.dims
    np.testing.assert_allclose(mean, probs.mean("member"), atol=1e-6)


def test_batches_give_keras_predict_row_for_row(ensemble):
    """Batch by batch (the last one short) the forecasts are Keras' own, each start in its own row."""
    values = np.random.default_rng(5).random((7, 16, 16, len(CHANNELS))).astype("float32")
    inputs = make_inputs().isel(time=[0] * 7).copy(data=values)
    probs = ensemble.predict(inputs, batch_size=3)
    for i, member in enumerate(ensemble.members):
        expected = member.predict(values, batch_size=3, verbose=0)
        np.testing.assert_array_equal(probs.isel(member=i).values, expected)


def test_one_compiled_forward_serves_every_member(ensemble, uncopyable_layer):
    """Back and forth between members, the shared forward gives each member's own forecasts bit for bit,
    compiles one function for them all and leaves their weights alone; a network Keras cannot copy
    forecasts through its own predict."""
    import keras

    values = np.random.default_rng(6).random((4, 16, 16, len(CHANNELS))).astype("float32")
    forward = SharedForward()
    before = [m.get_weights() for m in ensemble.members]
    for member in (*ensemble.members, ensemble.members[0]):
        np.testing.assert_array_equal(forward.bind(member)(values), member.predict_on_batch(values))
    assert len(forward._forwards) == 1
    for member, weights in zip(ensemble.members, before, strict=True):
        for got, want in zip(member.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(got, want)

    changed = build_icenet(16, 16, 3, filters_factor=0.0625, n_leads=2, seed=36)  # weights changed in place
    before_change = forward.bind(changed)(values)
    temperature_layer(changed).temperature.assign(2.0)
    after_change = forward.bind(changed)(values)
    np.testing.assert_array_equal(after_change, changed.predict_on_batch(values))
    assert not np.array_equal(before_change, after_change)

    inputs = keras.Input((16, 16, len(CHANNELS)))
    odd = keras.Model(inputs, ensemble.members[0](uncopyable_layer(0.5)(inputs)))
    np.testing.assert_array_equal(forward.bind(odd)(values), odd.predict_on_batch(values))
    assert len(forward._forwards) == 2 and list(forward._forwards.values())[1] is None


def test_channels_are_matched_by_name(ensemble):
    inputs = make_inputs()
    shuffled = inputs.isel(channel=[2, 0, 1]).transpose("channel", "x", "y", "time")
    np.testing.assert_allclose(ensemble.predict(shuffled), ensemble.predict(inputs), atol=1e-6)


def test_wrong_inputs_are_reported(ensemble):
    with pytest.raises(EnsembleError, match="lack channel"):
        ensemble.predict(make_inputs(channels=("siconca_abs_1", "land", "tas_anom_1")))
    with pytest.raises(ModelShapeError, match="expects"):
        ensemble.predict(make_inputs(side=24))
    with pytest.raises(EnsembleError, match="dims"):
        ensemble.predict(make_inputs().isel(time=0))


def test_save_load_round_trip_is_exact_and_replaces_atomically(ensemble, tmp_path):
    target = tmp_path / "ens"
    ensemble.save(target)
    ensemble.save(target)  # overwriting an existing ensemble leaves exactly one, complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens"]
    loaded = IceNetEnsemble.load(target)
    assert loaded.channels == CHANNELS and len(loaded) == 2
    assert loaded.manifest["seeds"] == [36, 37]
    assert float(loaded.stats["tas_mean"]) == 250.0
    np.testing.assert_allclose(loaded.predict(make_inputs()), ensemble.predict(make_inputs()), atol=1e-6)
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    assert manifest["member_files"] == ["member_seed36.keras", "member_seed37.keras"]


def test_failed_save_leaves_previous_ensemble_intact(ensemble, tmp_path):
    target = tmp_path / "ens"
    ensemble.save(target)
    before = sorted(p.name for p in target.iterdir())
    broken = IceNetEnsemble(ensemble.members, xr.Dataset({"bad": ("t", [object()])}), CHANNELS,
                            ensemble.manifest)
    with pytest.raises(Exception):  # noqa: B017 -- any failure while writing the stats will do
        broken.save(target)
    assert sorted(p.name for p in target.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ens"]  # no temporary folder left behind


def test_incomplete_or_foreign_folders_are_reported(ensemble, tmp_path):
    with pytest.raises(EnsembleError, match="not an icegrad ensemble"):
        IceNetEnsemble.load(tmp_path)
    ensemble.save(tmp_path / "ens")
    member = tmp_path / "ens" / "member_seed36.keras"
    member.write_bytes(member.read_bytes()[:100])
    with pytest.raises(EnsembleError, match=f"ensemble file {member} cannot be read .* it is damaged"):
        IceNetEnsemble.load(tmp_path / "ens")
    ensemble.save(tmp_path / "ens")
    (tmp_path / "ens" / "member_seed37.keras").unlink()
    with pytest.raises(EnsembleError, match="missing"):
        IceNetEnsemble.load(tmp_path / "ens")


def test_inconsistent_members_are_rejected(ensemble):
    other = build_icenet(16, 16, 4, filters_factor=0.0625, n_leads=2)
    with pytest.raises(EnsembleError, match="disagree"):
        IceNetEnsemble([ensemble.members[0], other], ensemble.stats, CHANNELS, {})
    with pytest.raises(EnsembleError, match="channel names"):
        IceNetEnsemble([other], ensemble.stats, CHANNELS, {})
    with pytest.raises(EnsembleError, match="at least one"):
        IceNetEnsemble([], ensemble.stats, CHANNELS, {})
