"""Tests of start months and the train/validate/test splits."""

from __future__ import annotations

import pandas as pd
import pytest

from icegrad.inputs.build import InputError, Splits, available_start_months
from icegrad.inputs.start_months import as_start_months


def test_available_start_months(monthly_ds):
    inputs_only = available_start_months(monthly_ds)
    assert inputs_only[0] == pd.Timestamp("1980-01") and inputs_only[-1] == pd.Timestamp("1985-01")
    with_targets = available_start_months(monthly_ds, n_leads=6)
    assert with_targets[0] == pd.Timestamp("1980-01") and with_targets[-1] == pd.Timestamp("1984-07")
    assert (with_targets == pd.date_range("1980-01", "1984-07", freq="MS")).all()
    assert len(available_start_months(monthly_ds.isel(time=slice(0, 12)), n_leads=6)) == 0


def test_start_month_parsing():
    parsed = as_start_months(["2012-09", pd.Timestamp("2013-01-01")])
    assert list(parsed) == [pd.Timestamp("2012-09-01"), pd.Timestamp("2013-01-01")]
    assert list(as_start_months("2013-07")) == [pd.Timestamp("2013-07-01")]
    with pytest.raises(InputError, match="first day of a month"):
        as_start_months(["2013-07-02"])
    with pytest.raises(InputError, match="could not read"):
        as_start_months(["September"])
    with pytest.raises(InputError, match="no start months"):
        as_start_months([])


def test_default_splits_are_icenets():
    splits = Splits()
    assert (splits.train, splits.validate, splits.test) == ((1980, 2011), (2012, 2017), (2018, 2020))
    with pytest.raises(AttributeError):
        splits.train = (1979, 2011)  # frozen


def test_split_start_months_are_disjoint_and_in_their_years(monthly_ds):
    splits = Splits(train=(1980, 1982), validate=(1983, 1983), test=(1984, 1984))
    train, validate, test = (splits.start_months(kind, monthly_ds) for kind in ("train", "validate", "test"))
    assert train[0] == pd.Timestamp("1980-01") and train[-1] == pd.Timestamp("1982-12")
    assert len(validate) == 12 and (validate.year == 1983).all()
    assert test[-1] == pd.Timestamp("1984-07")  # the last start with all six targets
    assert splits.start_months("test", monthly_ds, n_leads=0)[-1] == pd.Timestamp("1984-12")
    assert not set(train) & set(validate) and not set(validate) & set(test)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"train": (1990, 1980)}, "reversed"),
     ({"validate": (2011, 2017)}, "validate years start in 2011, not after the train years end"),
     ({"test": (2015, 2020)}, "not after the validate years end")],
)
def test_bad_splits(kwargs, match):
    with pytest.raises(InputError, match=match):
        Splits(**kwargs)


def test_unknown_split_kind(monthly_ds):
    with pytest.raises(InputError, match="unknown split 'val'"):
        Splits().start_months("val", monthly_ds)
