"""The embedded NSIDC CDR record in data/: it rebuilds exactly from the shared source files, it is
compact, observed and CF-described, and data_source="nsidc" works offline from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from icegrad.data import load_dataset, nsidc, nsidc_record
from icegrad.inputs.real_record import splits_for
from icegrad.inputs.splits import Splits
from icegrad.paths import data_dir

BUDGET_BYTES = 10_000_000


def test_the_committed_record_fits_the_budget_and_says_what_it_is() -> None:
    paths = [nsidc_record.record_path(res) for res in nsidc_record.RECORD_FILES]
    assert sum(p.stat().st_size for p in paths) <= BUDGET_BYTES
    for res in nsidc_record.RECORD_FILES:
        stored = nsidc_record.open_record(res)
        var = stored["siconca"]
        assert var.dtype == np.uint8 and var.attrs["standard_name"] == "sea_ice_area_fraction"
        assert var.attrs["units"] == "percent" and list(var.attrs["valid_range"]) == [0, 100]
        assert var.attrs["flag_meanings"] == "land missing_data" and var.encoding["zlib"]
        assert stored.attrs["observed"] == "true" and stored.attrs["doi"] == "10.7265/N59P2ZTG"
        assert "sha256:" in stored.attrs["source_files"] and stored.attrs["script"] == nsidc_record.SCRIPT
        assert "citation" in stored.attrs["license"] and stored.attrs["citation"].startswith("Meier")


def test_offline_load_gives_the_consecutive_observed_record(isolated_cache: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(nsidc.NSIDC_DIR_ENV, raising=False)
    monkeypatch.setattr(nsidc, "download",
                        lambda *a, **k: pytest.fail("the embedded record needs no download"))
    for res in (100, 200):
        ds = load_dataset("nsidc", resolution_km=res)
        times = pd.DatetimeIndex(ds.time.values)
        first, last = pd.Timestamp("1989-01-01"), pd.Timestamp("2017-12-01")
        assert (times[0], times[-1], len(times)) == (first, last, 348)
        assert ds.attrs["data_source"] == "nsidc" and ds.attrs["observed"] == "true"
        assert float(ds.siconca.max()) == 1.0 and float(ds.siconca.min()) == 0.0
    with pytest.raises(nsidc_record.RecordError, match="embedded_septembers"):
        nsidc.load_embedded(25)


def test_septembers_at_25km_order_the_letter_years() -> None:
    from icegrad.diagnostics import sea_ice_extent

    septembers = nsidc.embedded_septembers()
    years = pd.DatetimeIndex(septembers.time.values)
    assert (years.month == 9).all() and list(years.year[:2]) == [1987, 1989] and years.year[-1] == 2017
    extent = {y: float(sea_ice_extent(septembers.siconca.sel(time=f"{y}-09-01"))) for y in (2007, 2012, 2013)}
    assert extent[2012] < extent[2007] < extent[2013]
    # the CDR on EASE2 (4.92 / 4.39 / 6.04 here) sits above the Sea Ice Index (4.27 / 3.57 / 5.21)
    for year, index in ((2007, 4.27), (2012, 3.57), (2013, 5.21)):
        assert index < extent[year] < index + 1.0


def test_real_splits_train_to_2011_validate_2012_2014_test_2015_2017(
        isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(nsidc.NSIDC_DIR_ENV, raising=False)
    ds = load_dataset("nsidc", resolution_km=200)
    splits = splits_for(ds)
    assert splits == Splits(train=(1989, 2011), validate=(2012, 2014), test=(2015, 2017))
    train = splits.start_months("train", ds)
    assert train[0] == pd.Timestamp("1990-01-01") and train[-1] == pd.Timestamp("2011-12-01")
    assert splits.start_months("test", ds)[-1] == pd.Timestamp("2017-07-01")


def test_decode_refuses_unknown_codes_and_keeps_flags_out_of_the_ice() -> None:
    codes = np.array([0, 15, 100, nsidc_record.LAND_CODE, nsidc_record.FILL_CODE], dtype=np.uint8)
    values = nsidc_record.decode(codes)
    np.testing.assert_array_equal(values[:3], np.array([0.0, 0.15, 1.0], dtype=np.float32))
    assert np.isnan(values[3:]).all()
    with pytest.raises(nsidc_record.RecordError, match="rebuild"):
        nsidc_record.decode(np.array([101], dtype=np.uint8))


def test_rebuilding_from_the_shared_files_gives_the_committed_record(shared_reference: Path,
                                                                    tmp_path: Path) -> None:
    """Values exactly and every attribute; about 10 s on 2 cores, so it runs with the quick tests."""
    source = shared_reference / "real_files"
    if not (source / "nsidc_g02202v3_monthly_nh_sic.nc").is_file():
        pytest.skip(f"the shared NSIDC v3 record is not in {source}")
    nsidc_record.build_record(source, tmp_path)
    for res in nsidc_record.RECORD_FILES:
        rebuilt = nsidc_record.open_record(res, tmp_path)
        committed = nsidc_record.open_record(res, data_dir())
        np.testing.assert_array_equal(rebuilt["siconca"].values, committed["siconca"].values)
        np.testing.assert_array_equal(rebuilt["time"].values, committed["time"].values)
        assert rebuilt.attrs == committed.attrs
        assert {k: str(v) for k, v in rebuilt["siconca"].attrs.items()} == \
            {k: str(v) for k, v in committed["siconca"].attrs.items()}


def test_the_record_holds_what_the_book_regrids_from_the_files(shared_reference: Path, isolated_cache: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the 0.5 % of rounding to whole percent, with NaN exactly on the same (land) cells."""
    source = shared_reference / "real_files" / "nsidc_g02202v3_monthly_nh_sic.nc"
    if not source.is_file():
        pytest.skip(f"the shared NSIDC v3 record is not at {source}")
    monkeypatch.delenv(nsidc.NSIDC_DIR_ENV, raising=False)
    for res in (100, 200):
        from_files = nsidc.load(res, "2012-06", "2013-09", path=source, version=3)
        embedded = nsidc.load_embedded(res, "2012-06", "2013-09")
        a, b = from_files.siconca.values, embedded.siconca.values
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert np.nanmax(np.abs(a - b)) <= 0.005 + 1e-6
    from_files = nsidc.load(25, "2013-09", "2013-09", path=source, version=3).siconca.values[0]
    embedded = nsidc.embedded_septembers().siconca.sel(time="2013-09-01").values
    np.testing.assert_array_equal(np.isnan(from_files), np.isnan(embedded))
    assert np.nanmax(np.abs(from_files - embedded)) <= 0.005 + 1e-6
