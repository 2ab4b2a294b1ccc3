"""Chapter 12's glue: commands are inline code with ASCII hyphens, and the input counts add up."""

from __future__ import annotations

import pytest

from icegrad.errors import IcegradError
from icegrad.pages import real_data as page


def test_the_nsidc_command_is_inline_code_at_the_chosen_resolution() -> None:
    shown = page.page_glue(200)["nsidc_command"]
    assert shown.data == "`icegrad data --source nsidc --resolution 200`"
    assert shown.data.isascii(), "a typographic dash breaks copy-paste"


def test_a_command_with_a_backtick_is_refused() -> None:
    with pytest.raises(IcegradError, match="backtick"):
        page.command("echo `date`")


def test_the_sic_only_inputs_and_the_lacking_ones_make_all_inputs() -> None:
    values = page.page_glue(100)
    assert values["n_sic_only"] + values["n_lacking"] == values["n_all"] == 50
    assert values["resolution"] == 100
    assert values["lacking_channels"].startswith("tas_anom_1-3")


def test_osisaf_days_follow_the_catalogues_coverage() -> None:
    assert page.osisaf_days(2020, 2020) == 366  # OSI-450-a covers 2020
    assert page.osisaf_days(2020, 2021) == 366 + 365  # OSI-430-a continues it from 2021-01


def test_attribution_cost_scales_with_members_and_steps() -> None:
    one = page.attribution_cost(54, 0.25, 1, 2, 8, 21)
    four = page.attribution_cost(54, 0.25, 2, 2, 16, 21)
    assert four["tflop"] == pytest.approx(4 * one["tflop"])
    assert four["memory_gb"] == pytest.approx(2 * one["memory_gb"])  # twice the steps at once
    assert one["h100_seconds"] == pytest.approx(one["tflop"] * 1e12 / 4.95e14)


def test_cost_table_states_each_way_further() -> None:
    from icegrad.config import RunConfig

    table = page.cost_table(RunConfig())
    assert table.index[0] == "NSIDC CDR embedded in data/" and table.iloc[0]["account"] == "none"
    assert table.loc["NSIDC CDR v4 download (1979-2020)", "disk"] == "0.11 GB (504 monthly files)"
    assert "15,341 daily files" in table.loc["OSI SAF OSI-450-a + OSI-430-a (1979-2020)", "disk"]
    assert table.loc["ERA5 monthly means (IceNet's climate inputs)", "account"] == "free CDS account"
    assert "with all 64 steps at once" in table.iloc[-1]["compute per explained forecast"]
