"""The helpers every chapter page shares: numbers, prose, the run configuration, the run and gluing."""

from __future__ import annotations

import logging

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from icegrad.errors import ConfigError
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


def test_quietly_keeps_printed_output_and_tensorflow_warnings_off_the_page_but_not_progress(
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    import sys

    level = logging.getLogger("tensorflow").level
    with caplog.at_level(logging.DEBUG, logger=common.__name__), common.quietly():
        print("Epoch 1/1 - loss: 0.07")
        logging.getLogger("tensorflow").warning("5 out of the last 5 calls triggered tf.function retracing")
        print("IceNet member 1/2, epoch 1/8", file=sys.stderr)  # progress: the cell's remove-stderr hides it
    assert capsys.readouterr() == ("", "IceNet member 1/2, epoch 1/8\n")
    assert "Epoch 1/1" in caplog.text and "retracing" not in caplog.text
    assert logging.getLogger("tensorflow").level == level  # restored afterwards


def test_detached_figure_is_not_drawn_again_by_pyplot() -> None:
    fig, _ = plt.subplots()
    assert common.detached(fig) is fig and not plt.fignum_exists(fig.number)


def test_a_summary_loses_its_rounding_residue_per_variable() -> None:
    import xarray as xr

    summary = xr.Dataset({"net": ("group", [0.5, -9.7e-25]), "mean_abs": ("group", [2e-6, 1e-13])},
                         attrs={"method": "integrated_gradients"})
    clean = common.zero_small_summary(summary)
    assert clean["net"].values.tolist() == [0.5, 0.0] and clean["mean_abs"].values.tolist() == [2e-6, 0.0]
    assert clean.attrs == summary.attrs


def test_listing_joins_items_as_prose() -> None:
    assert common.listing([]) == "none"
    assert common.listing([], empty="no year") == "no year"
    assert common.listing(["a"]) == "a"
    assert common.listing(["a", "b"]) == "a and b"
    assert common.listing([1, 2, 3]) == "1, 2 and 3"


def test_method_name_gives_the_baseline_only_for_integrated_gradients() -> None:
    assert common.method_name("integrated_gradients", "zeros") == "integrated gradients (zeros)"
    assert common.method_name("vanilla_gradient", "zeros") == "vanilla gradient"
    assert common.method_name("integrated_gradients") == "integrated gradients"


def test_colour_name_and_the_maps_colours_of_sign() -> None:
    assert common.colour_name((0.9, 0.1, 0.1, 1.0)) == "red"
    assert common.colour_name((0.1, 0.2, 0.8)) == "blue"
    # The maps draw a positive attribution (more ice) at the top of cmocean's balance map: red.
    assert common.sign_colours() == {"positive": "red", "negative": "blue"}


def test_run_config_takes_the_run_fields_of_a_namespace_and_checks_them() -> None:
    config = common.run_config({"leads": [1, 3], "steps": 8, "figure_dir": "figures", "n_maps": 3})
    assert config.leads == (1, 3) and config.steps == 8
    with pytest.raises(ConfigError, match=r"leads=\(7,\) is out of range"):
        common.run_config({"leads": [7]})
    with pytest.raises(ConfigError, match="reference_year and target_year are both 2013"):
        common.run_config({"reference_year": 2013, "target_year": 2013})


def test_glue_all_glues_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: (value, display)}))
    fig = plt.figure()
    common.glue_all({"n": 3, "fig": fig})
    assert glued == {"n": (3, False), "fig": (fig, False)}
    assert not plt.fignum_exists(fig.number), "a glued figure is closed so it is not drawn twice"


def test_run_states_its_source_month_and_members() -> None:
    import xarray as xr

    from icegrad.config import RunConfig

    class Ensemble(list):
        channels = ("siconca_abs_1", "tas_anom_1")

    ds = xr.Dataset(attrs={"data_source": "emulated"})
    config = RunConfig(target_month="2012-09", method="vanilla_gradient")
    run = common.Run(config, ds, None, Ensemble([1, 2]))
    assert run.emulated and run.target_label == "September 2012"
    values = run.glue()
    assert values["n_members"] == 2 and values["method_name"] == "vanilla gradient"
    assert "EMULATED" in values["source_label"]
    assert values["target_label"] == "September 2012" and values["leads_text"] == "1, 2, 3, 4, 5, 6"
    assert "roi_cells" not in values  # a run without a ROI states none
    assert run.describe() == "vanilla gradient, baseline climatology, 2 members"


def test_glue_all_takes_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: value}))
    common.glue_all(common.Page({"n": 3}, tables={"t": "unglued"}))
    assert glued == {"n": 3}
