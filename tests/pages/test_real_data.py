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
