"""The cache cannot lie: damaged, stale or implausible entries are named and recomputed.

Each test plants one kind of bad entry the way it happens in practice (a truncated copy, a flipped
byte, an entry of an older format, a readable file holding impossible values, a killed write) and
checks that the next read names it in one line and returns a recomputed value.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from icegrad import cache, files


def _sic(value: float) -> xr.Dataset:
    return xr.Dataset({"siconca": (("time", "y", "x"), np.full((2, 3, 3), value, dtype=np.float32),
                                   {"units": "1"})})


class Counter:
    """A compute function that records how often it ran."""

    def __init__(self, make: Callable[[], xr.Dataset]) -> None:
        self.make, self.calls = make, 0

    def __call__(self) -> xr.Dataset:
        self.calls += 1
        return self.make()


def _load(compute: Counter, params: dict | None = None) -> xr.Dataset:
    return cache.cached_netcdf("emulator", params or {"case": 1}, compute)


@pytest.fixture
def entry(isolated_cache: Path) -> Path:
    """A healthy cached entry (SIC 0.5) of the emulator stage."""
    _load(Counter(lambda: _sic(0.5)))
    return cache.entry_path("emulator", {"case": 1})


def _reload(capsys: pytest.CaptureFixture[str]) -> tuple[Counter, xr.Dataset, str]:
    compute = Counter(lambda: _sic(0.5))
    ds = _load(compute)
    return compute, ds, capsys.readouterr().err


def test_computes_once_per_parameter_set(isolated_cache: Path) -> None:
    compute = {1: Counter(lambda: _sic(0.1)), 2: Counter(lambda: _sic(0.2))}
    for value in (1, 1, 2, 1):
        out = _load(compute[value], {"value": value})
        assert float(out.siconca[0, 0, 0]) == pytest.approx(value / 10)
    assert (compute[1].calls, compute[2].calls) == (1, 1)
    assert len(list((isolated_cache / "emulator").glob("*.nc"))) == 2
    assert cache.parameter_key({"a": 1, "b": 2}) == cache.parameter_key({"b": 2, "a": 1})


def test_a_healthy_entry_is_reused_silently(entry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compute, ds, err = _reload(capsys)
    assert compute.calls == 0 and err == ""
    assert json.loads(ds.attrs["cache_parameters"]) == {"case": 1}


def _assert_recomputed(capsys: pytest.CaptureFixture[str], entry: Path, what: str) -> None:
    compute, ds, err = _reload(capsys)
    assert compute.calls == 1, "the bad entry was served instead of recomputed"
    assert float(ds.siconca.max()) == 0.5
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"icegrad: cache entry {entry} is {what}")
    assert lines[0].endswith("; recomputing")
    _, _, err = _reload(capsys)
    assert err == "", "the recomputed entry must be intact"


def test_truncated_entry_is_recomputed(entry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])
    _assert_recomputed(capsys, entry, f"truncated ({entry.name} has {len(data) // 2} of {len(data)} bytes)")


def test_flipped_byte_is_recomputed(entry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    _assert_recomputed(capsys, entry, f"corrupted ({entry.name} does not match its SHA-256 checksum)")


def test_entry_of_another_format_version_is_recomputed(entry: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    record = cache.record_path(entry)
    text = json.loads(record.read_text())
    text["icegrad_cache"] = cache.FORMAT_VERSION - 1
    record.write_text(json.dumps(text))
    _assert_recomputed(capsys, entry, "stale")


def test_entry_without_record_is_recomputed(entry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache.record_path(entry).unlink()  # e.g. written by icegrad before records, or killed before it
    _assert_recomputed(capsys, entry, "unrecorded")


def _plant(entry: Path, ds: xr.Dataset) -> None:
    """Replace an entry by ``ds`` with a matching record: readable, intact, and wrong."""
    files.write_netcdf(ds, entry)
    cache.commit(entry, "emulator", {"case": 1})


@pytest.mark.parametrize(("value", "what"), [
    (5.0, "implausible (siconca spans 5 to 5, outside its valid range 0 to 1)"),
    (np.nan, "implausible (18 non-finite siconca value(s) where none may be)"),
])
def test_implausible_values_are_recomputed(entry: Path, capsys: pytest.CaptureFixture[str], value: float,
                                           what: str) -> None:
    planted = _sic(value).assign_coords(land=(("y", "x"), np.zeros((3, 3), dtype=np.int8)))
    _plant(entry, planted)
    _assert_recomputed(capsys, entry, what)


def test_nan_on_land_is_plausible_and_unknown_variables_are_not_judged() -> None:
    ds = _sic(0.3).assign_coords(land=(("y", "x"), np.eye(3, dtype=bool)))
    ds["siconca"] = ds.siconca.where(~ds.land)
    assert cache.implausibility(ds) is None
    assert cache.implausibility(ds.assign(anything=("x", [1e30, np.nan, -np.inf]))) is None
    assert "target_value" in cache.implausibility(xr.Dataset({"target_value": ("lead", [0.2, 1.5])}))
    assert "tas_std" in cache.implausibility(xr.Dataset({"tas_std": 0.0}))


def test_an_infinity_is_out_of_range_even_where_nan_may_be_and_all_nan_is_not_judged() -> None:
    ds = _sic(0.3).assign_coords(land=(("y", "x"), np.eye(3, dtype=bool)))
    ds["siconca"] = ds.siconca.where(~ds.land, np.inf)
    assert "siconca spans 0.3 to inf" in cache.implausibility(ds)
    everywhere_land = ds.assign_coords(land=(("y", "x"), np.ones((3, 3), dtype=bool)))
    assert cache.implausibility(everywhere_land.assign(siconca=everywhere_land.siconca * np.nan)) is None
    assert cache.implausibility(xr.Dataset({"target_value": ("lead", np.array([], dtype=float))})) is None


def test_refresh_timestamp_recomputes_each_older_entry_once(
        entry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(cache.REFRESH_ENV, str(time.time() + 1e-3))
    time.sleep(0.01)
    compute, _, err = _reload(capsys)
    assert compute.calls == 1 and err == ""  # asked for, so not reported as a problem
    compute, _, _ = _reload(capsys)
    assert compute.calls == 0, "an entry written after the refresh time must be reused"
    monkeypatch.setenv(cache.REFRESH_ENV, "yesterday")
    with pytest.raises(cache.CacheError, match=r"ICEGRAD_REFRESH='yesterday' is not a UNIX timestamp"):
        _reload(capsys)


def test_killed_write_leaves_nothing_that_counts(entry: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def killed(ds: xr.Dataset, path: Path) -> None:
        with files.atomic_path(path) as tmp:
            tmp.write_bytes(b"CDF half a file")
            raise KeyboardInterrupt  # the kernel is stopped mid-write

    with pytest.raises(KeyboardInterrupt):
        cache.cached("emulator", {"case": 1}, lambda: _sic(0.7), load=cache.read_netcdf, save=killed,
                     refresh=True)
    assert not cache.record_path(entry).exists(), "the old record must not vouch for a new write"
    _assert_recomputed(capsys, entry, "unrecorded")


def test_orphaned_temporaries_are_removed_by_verify_once_old(isolated_cache: Path) -> None:
    folder = isolated_cache / "models"
    folder.mkdir(parents=True)
    old, fresh = folder / ".abc.x1.part", folder / ".abc.x2.part"
    old.mkdir()
    (old / "member_seed36.keras").write_bytes(b"partial")
    fresh.write_bytes(b"being written now")
    os.utime(old, (time.time() - 2 * cache.ORPHAN_AGE_S,) * 2)
    report, n_bad = cache.verify()
    assert n_bad == 0 and "removed 1 orphaned temporary file(s)" in report
    assert not old.exists() and fresh.exists()


def _fake_world(root: Path) -> dict[str, Path]:
    """Entries of two stages next to files that are not entries (downloads, notes) in the same folders."""
    good = Counter(lambda: _sic(0.5))
    cache.cached_netcdf("emulator", {"n": 1}, good)
    cache.cached_netcdf("emulator", {"n": 2}, good)
    cache.cached_netcdf("nsidc", {"n": 1}, good)
    folder = cache.entry_path("models", {"n": 1})
    cache.store(folder, "models", {"n": 1}, lambda p: (p.mkdir(parents=True), (p / "a.txt").write_text("a")))
    keep = {"download": root / "nsidc" / "G02202_V4" / "seaice_conc_monthly_nh_200712_f13_v04r00.nc",
            "era5": root / "era5" / "era5_single_2013_0123456789abcdef.nc",
            "notes": root / "emulator" / "notes.txt", "other": root / "mine" / "0123456789abcdef.nc"}
    for path in keep.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not a cache entry")
    return keep


def test_describe_counts_entries_per_stage(isolated_cache: Path) -> None:
    _fake_world(isolated_cache)
    text = cache.describe()
    assert str(isolated_cache) in text
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^  (\w+)\s+(\d+)\s", text, re.MULTILINE)}
    assert counts == {"emulator": 2, "nsidc": 1, "osisaf": 0, "era5": 0, "models": 1, "attributions": 0,
                      "permutation_importance": 0, "baselines": 0, "total": 4}


def test_verify_names_each_bad_entry(isolated_cache: Path) -> None:
    _fake_world(isolated_cache)
    assert cache.verify()[1] == 0
    first = cache.entry_path("emulator", {"n": 1})
    _plant(first, _sic(5.0))
    (cache.entry_path("models", {"n": 1}) / "a.txt").write_text("b")
    report, n_bad = cache.verify()
    assert n_bad == 2
    assert f"icegrad: cache entry {first} is implausible (siconca spans 5" in report
    assert "a.txt does not match its SHA-256 checksum" in report
    assert report.splitlines()[-1].startswith("4 cache entries checked")


def test_clear_removes_entries_only(isolated_cache: Path) -> None:
    keep = _fake_world(isolated_cache)
    (isolated_cache / "emulator" / "fedcba9876543210.nc").write_text("written before records existed")
    assert cache.clear("emulator") == 3
    assert not list((isolated_cache / "emulator").glob("*.entry.json"))
    assert cache.clear() == 2
    assert cache.clear() == 0
    assert all(path.read_text() == "not a cache entry" for path in keep.values())
    assert sorted(p.name for p in (isolated_cache / "emulator").iterdir()) == ["notes.txt"]
    with pytest.raises(cache.CacheError, match="unknown cache stage 'model'; choose one of emulator"):
        cache.clear("model")


def test_planted_sic_of_five_never_reaches_the_cli(isolated_cache: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The reported failure: a readable entry with SIC = 5 made ``icegrad data`` print 61 million km2."""
    from icegrad.cli import main
    from icegrad.data import load_dataset
    from icegrad.diagnostics import sea_ice_extent

    ds = load_dataset("emulated", resolution_km=200)
    (entry,) = (isolated_cache / "emulator").glob("*.nc")
    planted = ds.assign(siconca=ds.siconca.where(ds.siconca.isnull(), 5.0))
    assert sea_ice_extent(planted.siconca.sel(time="2013-09")).item() > 30  # what it would have printed

    def plant() -> None:  # readable, with a matching checksum record: only plausibility can catch it
        files.write_netcdf(planted.assign_coords(land=ds.land.astype(np.int8)), entry)
        cache.commit(entry, "emulator", {"planted": True})

    plant()
    september = sea_ice_extent(load_dataset("emulated", resolution_km=200).siconca.sel(time="2013-09"))
    assert 0 < september.item() < 12
    assert f"icegrad: cache entry {entry} is implausible (siconca spans 5" in capsys.readouterr().err
    plant()
    assert main(["data", "--resolution", "200"]) == 0
    out, err = capsys.readouterr()
    extents = [float(v) for v in re.findall(r"^  \d{4}:\s+([\d.]+)$", out, re.MULTILINE)]
    assert len(extents) == 42 and max(extents) < 20, "a cached SIC of 5 reached the printed extents"
    assert "is implausible" in err


def test_damaged_or_implausible_cached_ensemble_is_retrained(
        isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from icegrad.model import train
    from icegrad.model.ensemble import IceNetEnsemble
    from icegrad.model.icenet import build_icenet

    trained: list[int] = []

    def fake_training(ds: xr.Dataset, config: train.TrainConfig, **options: object) -> IceNetEnsemble:
        trained.append(1)
        members = [build_icenet(16, 16, 3, filters_factor=0.0625, n_leads=2, seed=36)]
        stats = xr.Dataset({"tas_mean": xr.DataArray(250.0, attrs={"units": "K"})})
        return IceNetEnsemble(members, stats, ("siconca_abs_1", "land", "cos_month"), {"seeds": [36]})

    monkeypatch.setattr(train, "train_ensemble", fake_training)
    ds = xr.Dataset({"siconca": ("time", np.zeros(2))}, coords={"time": np.array(
        ["2000-01-01", "2000-02-01"], dtype="datetime64[ns]")})
    config = train.TrainConfig(members=1)
    train.load_or_train(ds, config)
    train.load_or_train(ds, config)
    assert len(trained) == 1
    folder = isolated_cache / "models" / train.model_cache_key(ds, config)

    member = folder / "member_seed36.keras"
    member.write_bytes(member.read_bytes()[:-10])
    train.load_or_train(ds, config)
    assert len(trained) == 2 and "member_seed36.keras has" in capsys.readouterr().err

    broken = IceNetEnsemble.load(folder)
    weights = broken.members[0].get_weights()
    weights[0][...] = np.nan
    broken.members[0].set_weights(weights)
    broken.save(folder)
    cache.commit(folder, "models", {"planted": True})
    ensemble = train.load_or_train(ds, config)
    assert len(trained) == 3
    assert "is implausible (member seed36 has non-finite weights)" in capsys.readouterr().err
    assert all(np.isfinite(w).all() for w in ensemble.members[0].get_weights())


def test_dataset_fingerprint_ignores_time_precision() -> None:
    """The same months stored as datetime64[us] or [ns] (fresh vs read back) give one cache key."""
    import pandas as pd

    times = pd.date_range("2000-01", periods=3, freq="MS")
    a = xr.Dataset({"v": ("time", np.arange(3.0))}, coords={"time": times.values.astype("datetime64[us]")})
    b = xr.Dataset({"v": ("time", np.arange(3.0))}, coords={"time": times.values.astype("datetime64[ns]")})
    assert cache.dataset_fingerprint(a) == cache.dataset_fingerprint(b)
    assert cache.dataset_fingerprint(a) != cache.dataset_fingerprint(a.assign(v=a.v + 1))


def test_digests_change_with_content() -> None:
    a = np.arange(4.0)
    assert cache.array_digest(a) == cache.array_digest(a.copy()) != cache.array_digest(a + 1)
    assert cache.array_digest(a, a) != cache.array_digest(a)


_SIDE_BY_SIDE = """
import sys, time
from pathlib import Path
from icegrad import cache
log = Path(sys.argv[1])
def compute():
    with log.open("a") as f:
        f.write("computed\\n")
    time.sleep(1.0)
    return "value"
def save(value, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value)
print(cache.cached("attributions", {"shared": 1}, compute, load=lambda p: p.read_text(), save=save))
"""


def test_processes_side_by_side_compute_a_shared_entry_once(isolated_cache: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    log = tmp_path / "computations.log"
    env = {**os.environ, "ICEGRAD_CACHE_DIR": str(isolated_cache)}
    runs = [subprocess.Popen([sys.executable, "-c", _SIDE_BY_SIDE, str(log)], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["value", "value"]
    assert log.read_text().splitlines() == ["computed"]
    assert sum("waiting for another process" in err for _, err in outputs) == 1


def test_an_unwritable_lock_folder_leaves_the_entry_usable(isolated_cache: Path) -> None:
    (isolated_cache / "permutation_importance").mkdir(parents=True)
    (isolated_cache / cache.LOCKS_FOLDER).write_text("a file where the lock folder should be")
    value = cache.cached("permutation_importance", {"k": 1}, lambda: "v", load=lambda p: p.read_text(),
                         save=lambda v, p: p.write_text(v))
    assert value == "v"


def _store(folder: Path, key: int) -> Path:
    """Store one small attributions entry through :func:`cache.cached` and return its path."""
    (folder / "attributions").mkdir(parents=True, exist_ok=True)
    cache.cached("attributions", {"k": key}, lambda: "v", load=lambda p: p.read_text(),
                 save=lambda v, p: p.write_text(v))
    (entry,) = [e for e in (folder / "attributions").iterdir() if not e.name.endswith(".json")]
    return entry


def test_clear_removes_unheld_lock_files_and_keeps_held_ones(isolated_cache: Path) -> None:
    import fcntl

    entry = _store(isolated_cache, 1)
    assert cache.lock_path(entry).exists()
    assert cache.clear() == 1
    assert not cache.lock_path(entry).exists()
    entry = _store(isolated_cache, 1)
    with open(cache.lock_path(entry)) as held:  # a second open file conflicts like another process
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cache.clear() == 1
        assert cache.lock_path(entry).exists()


def test_a_lock_whose_file_was_removed_while_waiting_is_taken_again(isolated_cache: Path) -> None:
    import fcntl
    import threading

    entry = _store(isolated_cache, 2)
    path = cache.lock_path(entry)
    held = open(path)
    fcntl.flock(held, fcntl.LOCK_EX)
    inodes: list[int] = []  # the waiter's view, inside the lock, of the file at the lock path

    def wait_then_hold() -> None:
        with cache.entry_lock(entry):
            inodes.append(os.stat(path).st_ino)

    waiter = threading.Thread(target=wait_then_hold)
    waiter.start()
    time.sleep(0.5)  # the waiter is blocked on the old file
    path.unlink()  # as clear does while it holds the lock
    held.close()  # releases the old file: the waiter must notice it is gone and lock a new one
    waiter.join(timeout=30)
    assert not waiter.is_alive()
    assert path.exists() and inodes == [os.stat(path).st_ino]


def test_a_models_architecture_is_read_once_and_its_weights_at_every_digest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Keras rebuilds a model's JSON from every layer at each call; the weights may change in place."""
    import keras

    from icegrad.model.ensemble import architecture

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    calls = {"to_json": 0, "get_config": 0}
    for name in calls:
        original = getattr(model, name)

        def counted(*args: object, _name: str = name, _original=original, **kwargs: object) -> object:
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(model, name, counted)
    first, key = cache.model_digest(model), architecture(model)
    read = dict(calls)
    assert read["to_json"] == 1 and read["get_config"] >= 1
    assert (cache.model_digest(model), architecture(model)) == (first, key)
    assert calls == read  # the second digest and key read nothing of the model's configuration
    model.set_weights([w + 1.0 for w in model.get_weights()])
    assert cache.model_digest(model) != first and architecture(model) == key
    twin = keras.models.clone_model(model)  # another object of the same architecture
    assert architecture(twin) == key
