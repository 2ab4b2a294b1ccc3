"""The embedded emulated Arctic: SYNTHETIC sea ice with a known causal structure.

The book's default data. It has to look like the Arctic to a sea-ice scientist *and* carry a ground
truth, so that the book can ask whether gradient attribution finds it. It is built in two layers:

1. **Drivers** (:mod:`.drivers`, :mod:`.events`): ERA5-like anomalies made of regional AR(1) modes
   (Pacific sector, Siberian shelf, Atlantic sector, central Arctic) plus small-scale noise, with the
   summers of 2007, 2012 and 2013 planted as weather; climatologies and physical ties turn them into
   fields in real units (:mod:`.climate`).
2. **Sea ice** (:mod:`.sea_ice`): a logistic rule per cell — effective latitude against a seasonal,
   slowly retreating ice edge — plus the lagged links below and one documented noise term, a hidden
   "thickness" anomaly (:mod:`.thickness`: smooth, a few hundred km across, AR(1) with a ~10-month
   memory, never stored in the dataset). It gives the ice edge the local year-to-year variability of
   the real one, so a per-cell linear trend no longer forecasts it almost perfectly, and past SIC
   carries information the trend lacks. It depends on no input, so it is not a link and adds nothing
   to the sensitivity. No spatial coupling, so the exact sensitivity (:func:`true_sensitivity`)
   follows from the chain rule.

The links (the ground truth, also as data: :func:`true_links`), per unit of anomaly, in logits of
the sea-ice state:

* **SIC persistence**, lag 1, every month (+3.0 in May-September, +2.0 otherwise): a pack thicker
  than usual last month is still there; the growth season forgets faster because refreezing resets
  the thin ice.
* **2 m air temperature**, lag 0, every month (-0.25 per K): warm air melts ice or slows its growth.
* **2 m air temperature**, lag 1, June-September (-0.15 per K): a warm month thins the ice, so it
  melts out sooner the month after.
* **Downwelling shortwave**, lag 1 in July-September (-0.010 per W m-2) and lag 2 in
  August-September (-0.008): sunshine absorbed in leads, ponds and the upper ocean melts ice later —
  the ice-albedo feedback that made 2007.
* **Sea-level pressure** in the Pacific sector, lag 0 in June-September (-0.0010 per Pa) and lag 1
  in July-September (-0.0008): the Beaufort High drives ice away from the Chukchi and East Siberian
  coasts and brings clear skies.
* **Sea surface temperature** in the Atlantic sector, lag 1 in November-May (-0.5 per K) and lag 2
  in December-April (-0.3): warm Atlantic inflow keeps the Barents and Greenland seas open.
  The link acts through the *open-water* SST anomaly; under the ice ``tos`` shows the freezing
  point, as observed SST does.

No link at all from ``ta500``, ``rsus``, ``zg500``, ``zg250``, ``ua10``, ``uas`` or ``vas``. Some of
them are strongly *correlated* with the ice (``rsus`` is caused by it; ``ta500`` follows ``tas``;
``zg500`` follows ``psl``), which is exactly what makes them a fair test: a faithful attribution
ranks them low even though a correlation analysis would not.

Example
-------
>>> from icegrad.data import emulator
>>> ds = emulator.load(resolution_km=200)
>>> ds.attrs["data_source"]
'emulated'
>>> emulator.true_links()[["variable", "lag", "region", "sign"]].head(3)
  variable  lag region  sign
0  siconca    1    all     1
1  siconca    1    all     1
2      tas    0    all    -1
"""

from icegrad.data.emulator.dataset import generate, load
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.geography import REGION_NAMES, regions
from icegrad.data.emulator.links import LINKED_DRIVERS, UNLINKED_VARIABLES, true_links
from icegrad.data.emulator.sensitivity import true_sensitivity
from icegrad.data.emulator.simulate import Perturbation

__all__ = [
    "LINKED_DRIVERS",
    "REGION_NAMES",
    "UNLINKED_VARIABLES",
    "EmulatorError",
    "Perturbation",
    "generate",
    "load",
    "regions",
    "true_links",
    "true_sensitivity",
]
