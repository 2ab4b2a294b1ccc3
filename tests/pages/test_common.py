"""The helpers every chapter page shares."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from icegrad.pages import common


def test_rounding_residue_becomes_zero_and_real_values_stay() -> None:
    table = pd.DataFrame({"net": [0.5, -2e-24, -0.0], "other": [1e-3, -0.3, 2e-7]})
    clean = common.zero_small(table)
    assert clean["net"].tolist() == [0.5, 0.0, 0.0] and not np.signbit(clean["net"]).any()
    assert clean["other"].tolist() == [1e-3, -0.3, 0.0]  # 2e-7 <= 1e-6 x 0.5
    assert common.zero_small(np.array([1e-9, 2e-9]), scale=1.0).tolist() == [0.0, 0.0]
    assert common.zero_small(pd.Series([1e-9, 2e-9])).tolist() == [1e-9, 2e-9]  # its own scale


@pytest.mark.parametrize(("mean", "spread", "text"), [
    (0.0, 0.0, "0 ± 0"), (0.1234, 0.01, "+0.123 ± 0.01"), (-5e-3, 1e-4, "-0.005 ± 0.0001"),
    (0.2, float("nan"), "+0.2 ± n/a"),
])
def test_plus_minus(mean: float, spread: float, text: str) -> None:
    assert common.plus_minus(mean, spread) == text


def test_sign_mark_and_lead_prose() -> None:
    assert [common.sign_mark(v) for v in (0.1, -0.1, 0.0)] == ["+", "−", "0"]
    assert common.lead_list([3]) == "lead 3" and common.lead_list([1, 2]) == "leads 1, 2"
    assert common.run_text({1: "sic", 2: "sic", 3: "trend"}) == "sic at leads 1, 2; trend at lead 3"
    assert common.month_label("2013-09") == "September 2013"
    assert common.method_label("gradient_x_input") == "gradient x input"


def test_quietly_keeps_console_output_and_tensorflow_warnings_off_the_page(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    level = logging.getLogger("tensorflow").level
    with caplog.at_level(logging.DEBUG, logger=common.__name__), common.quietly():
        print("Epoch 1/1 - loss: 0.07")
        logging.getLogger("tensorflow").warning("5 out of the last 5 calls triggered tf.function retracing")
    assert capsys.readouterr() == ("", "")
    assert "Epoch 1/1" in caplog.text and "retracing" not in caplog.text
    assert logging.getLogger("tensorflow").level == level  # restored afterwards


def test_detached_figure_is_not_drawn_again_by_pyplot() -> None:
    fig, _ = plt.subplots()
    assert common.detached(fig) is fig and not plt.fignum_exists(fig.number)


def test_bad_run_parameters_fail_in_one_line_before_any_work() -> None:
    from icegrad.errors import ConfigError

    assert common.checked(leads=[1, 3], steps=8).leads == (1, 3)
    with pytest.raises(ConfigError, match=r"leads=\(7,\) is out of range"):
        common.checked(leads=[7])
    with pytest.raises(ConfigError, match="reference_year and target_year are both 2013"):
        common.attribution_run("emulated", 200, 2, 0.25, 1, "", 2013, 2013, "threshold:0.5", "2013-09", [1],
                               "integrated_gradients", 8, "climatology")


def test_a_summary_loses_its_rounding_residue_per_variable() -> None:
    import xarray as xr

    summary = xr.Dataset({"net": ("group", [0.5, -9.7e-25]), "mean_abs": ("group", [2e-6, 1e-13])},
                         attrs={"method": "integrated_gradients"})
    clean = common.zero_small_summary(summary)
    assert clean["net"].values.tolist() == [0.5, 0.0] and clean["mean_abs"].values.tolist() == [2e-6, 0.0]
    assert clean.attrs == summary.attrs
