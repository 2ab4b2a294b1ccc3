"""The shared chapter helpers: prose lists, method names, the colours of sign, the run configuration."""

from __future__ import annotations

import pytest

from icegrad.errors import ConfigError
from icegrad.pages import verdicts


def test_listing_joins_items_as_prose() -> None:
    assert verdicts.listing([]) == "none"
    assert verdicts.listing([], empty="no year") == "no year"
    assert verdicts.listing(["a"]) == "a"
    assert verdicts.listing(["a", "b"]) == "a and b"
    assert verdicts.listing([1, 2, 3]) == "1, 2 and 3"


def test_method_name_gives_the_baseline_only_for_integrated_gradients() -> None:
    assert verdicts.method_name("integrated_gradients", "zeros") == "integrated gradients (zeros)"
    assert verdicts.method_name("vanilla_gradient", "zeros") == "vanilla gradient"
    assert verdicts.method_name("integrated_gradients") == "integrated gradients"


def test_colour_name_and_the_maps_colours_of_sign() -> None:
    assert verdicts.colour_name((0.9, 0.1, 0.1, 1.0)) == "red"
    assert verdicts.colour_name((0.1, 0.2, 0.8)) == "blue"
    # The maps draw a positive attribution (more ice) at the top of cmocean's balance map: red.
    assert verdicts.sign_colours() == {"positive": "red", "negative": "blue"}


def test_run_config_takes_the_run_fields_of_a_namespace_and_checks_them() -> None:
    config = verdicts.run_config({"leads": [1, 3], "steps": 8, "figure_dir": "figures", "n_maps": 3})
    assert config.leads == (1, 3) and config.steps == 8
    with pytest.raises(ConfigError, match="leads"):
        verdicts.run_config({"leads": [7]})


def test_glue_all_glues_every_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: glued.update({name: (value, display)}))
    fig = plt.figure()
    verdicts.glue_all({"n": 3, "fig": fig})
    assert glued == {"n": (3, False), "fig": (fig, False)}
    assert not plt.fignum_exists(fig.number), "a glued figure is closed so it is not drawn twice"


def test_quiet_tensorflow_raises_tensorflows_log_level_to_errors() -> None:
    import logging

    import tensorflow as tf

    tf.get_logger().setLevel(logging.WARNING)
    verdicts.quiet_tensorflow()
    assert tf.get_logger().level == logging.ERROR


def test_run_states_its_source_month_and_members() -> None:
    import xarray as xr

    from icegrad.config import RunConfig

    class Ensemble(list):
        channels = ("siconca_abs_1", "tas_anom_1")

    ds = xr.Dataset(attrs={"data_source": "emulated"})
    config = RunConfig(target_month="2012-09", method="vanilla_gradient")
    run = verdicts.Run(config, ds, None, Ensemble([1, 2]))
    assert run.emulated and run.target_label == "September 2012"
    values = run.glue()
    assert values["n_members"] == 2 and values["method_name"] == "vanilla gradient"
    assert "EMULATED" in values["source_label"]
    assert values["target_label"] == "September 2012"
