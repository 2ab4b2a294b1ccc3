"""The faithfulness figure draws each ordering's mean curve, the random control dashed, and its data stamp."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from icegrad.plots import PlotError
from icegrad.plots.lines import faithfulness_curves

FRACTIONS = [0.0, 0.02, 0.2, 1.0]


def curves(data_source: str) -> xr.Dataset:
    """SYNTHETIC curves of two methods and the random control: 2 members x 1 lead."""
    deletion = np.array([[0.8, 0.4, 0.2, 0.1], [0.8, 0.7, 0.5, 0.1], [0.8, 0.75, 0.6, 0.1]])
    insertion = deletion[:, ::-1]
    member = np.stack([deletion, deletion + 0.02])[:, :, np.newaxis]  # member, order, lead, fraction
    dims = ("order", "member", "lead", "fraction")
    return xr.Dataset({"deletion": (dims, member.transpose(1, 0, 2, 3)),
                       "insertion": (dims, np.stack([insertion, insertion])[:, :, np.newaxis]
                                     .transpose(1, 0, 2, 3))},
                      coords={"order": ["a", "b", "random"], "member": [0, 1], "lead": [1],
                              "fraction": FRACTIONS}, attrs={"data_source": data_source})


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def test_curves_are_the_member_means_with_random_dashed_and_a_source_stamp() -> None:
    fig = faithfulness_curves(curves("emulated"), "September 2013")
    left, right = fig.axes[:2]
    lines = {line.get_label(): line for line in left.get_lines()}
    assert list(lines) == ["a", "b", "random (shared control)"]
    assert np.allclose(lines["a"].get_ydata(), [0.81, 0.41, 0.21, 0.11])
    assert lines["random (shared control)"].get_linestyle() == "--"
    assert lines["a"].get_linestyle() == "-"
    assert np.allclose(right.get_lines()[0].get_ydata(), [0.1, 0.2, 0.4, 0.8])
    assert "EMULATED" in fig.get_suptitle() and "September 2013" in fig.get_suptitle()
    assert "EMULATED" not in faithfulness_curves(curves("nsidc")).get_suptitle()


def test_anything_but_compare_orderings_curves_is_refused() -> None:
    with pytest.raises(PlotError, match="missing"):
        faithfulness_curves(curves("emulated").drop_vars("insertion"))
