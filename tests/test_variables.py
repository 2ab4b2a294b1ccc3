"""IceNet's channel catalogue: count, order, names and groups as in the IceNet release."""

from __future__ import annotations

import pytest

from icegrad import variables as v


def test_fifty_channels_in_icenet_order() -> None:
    names = v.CHANNEL_NAMES
    assert len(names) == 50
    assert names[:12] == tuple(f"siconca_abs_{k}" for k in range(1, 13))
    assert names[12:18] == tuple(f"siconca_linear_trend_{k}" for k in range(1, 7))
    assert names[18:21] == ("tas_anom_1", "tas_anom_2", "tas_anom_3")
    assert names[39:42] == ("zg250_anom_1", "zg250_anom_2", "zg250_anom_3")
    assert names[42:] == ("ua10_abs_1", "ua10_abs_2", "ua10_abs_3", "uas_abs_1", "vas_abs_1",
                          "land", "cos_month", "sin_month")
    assert len(set(names)) == 50


def test_groups_cover_the_five_families() -> None:
    counts = {g: v.channel_groups().count(g) for g in v.GROUPS}
    assert counts == {"sic": 12, "trend": 6, "climate": 29, "seasonal": 2, "static": 1}
    assert len(v.SIC_ONLY_CHANNEL_NAMES) == 21


def test_unknown_channel_suggests_the_right_name() -> None:
    with pytest.raises(KeyError, match="tas_anom_1"):
        v.channel("tas_anom1")
