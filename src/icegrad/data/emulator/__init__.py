"""The embedded emulated Arctic: SYNTHETIC sea ice with a known causal structure.

The book's default data. It has to look like the Arctic to a sea-ice scientist *and* carry a ground
truth, so that the book can ask whether gradient attribution finds it. It is built in two layers:

1. **Drivers** (:mod:`.drivers`, :mod:`.events`): per-cell AR(1) anomalies with known coefficients,
   driven by smooth random-wave innovations independent of the past, with the summers of 2007, 2012
   and 2013 planted as extra innovations in the preceding months; climatologies and physical ties
   turn them into fields in real units (:mod:`.climate`, :mod:`.simulate`).
2. **Sea ice** (:mod:`.sea_ice`): ``SIC = sigma(b + a)``, ``b`` a bounded climatological state (effective
   latitude against a seasonal, retreating ice edge), ``a`` an anomaly with memory ``rho(month)``,
   carried by wind-driven drift (:mod:`.drift`), pushed by the lagged driver links (:mod:`.links`) and
   by its own innovation. ``a = logit(SIC) - b``: all memory is observable, nothing hidden persists.

Two truths, two questions. *What causes the ice*: the links (:func:`true_links`) and the generator's
chain-rule sensitivity (:func:`true_sensitivity`). *What a forecaster should read*: the optimal
forecast ``E[ROI-mean P(SIC > 0.15) | inputs]`` of :mod:`.optimal` (closed form, TensorFlow), the
truth the book scores attribution against (:mod:`icegrad.evaluation.fidelity`).

The causal links (also as data: :func:`true_links`), in logits of ``a`` per unit of anomaly:

* **SIC persistence**, lag 1, every month: the memory ``rho`` (0.6 at freeze-up to 0.92 in midsummer),
  carried by the drift.
* **2 m air temperature**, lag 0, every month (-0.3 per K), and lag 1 in June-September (-0.2 per K):
  warm air melts ice or slows its growth, and a warm month thins the ice for the next.
* **Downwelling shortwave**, lag 1 in July-September (-0.012 per W m-2) and lag 2 in August-September
  (-0.008): the ice-albedo feedback that made 2007.
* **Sea-level pressure** over the Pacific sector, lag 0 in June-September (-0.002 per Pa) and lag 1 in
  July-September (-0.0012): the Beaufort High drives ice from the Chukchi and East Siberian coasts.
* **Sea surface temperature** over the Atlantic sector, lag 1 in November-May (-0.5 per K) and lag 2
  in December-April (-0.3): warm Atlantic inflow keeps the Barents and Greenland seas open.

No link at all from ``ta500``, ``rsus``, ``zg500``, ``zg250``, ``ua10``, ``uas`` or ``vas``. Some of
them are strongly *correlated* with the ice (``rsus`` is caused by it; ``ta500`` follows ``tas``;
``zg500`` follows ``psl``), which is exactly what makes them a fair test: a faithful attribution
ranks them low even though a correlation analysis would not. Years after 2020 are control years at
the 2020 forcing: as many as training needs, with the same statistics. See docs/EMULATOR.md.

The memory, the ice's own innovation and the links' strength are one :class:`Tuning`
(:mod:`.tuning`); the default is the book's Arctic, and ``generate(..., tuning=...)`` makes another
whose optimal forecast and sensitivity follow it (a sweep over tunings: benchmarks/emulator_headroom.py).

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

from icegrad.data.emulator.dataset import coverage, generate, load, realisation
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.geography import REGION_NAMES, regions
from icegrad.data.emulator.links import LINKED_DRIVERS, UNLINKED_VARIABLES, true_links
from icegrad.data.emulator.sensitivity import true_sensitivity
from icegrad.data.emulator.simulate import Perturbation
from icegrad.data.emulator.tuning import Tuning

__all__ = [
    "LINKED_DRIVERS",
    "REGION_NAMES",
    "UNLINKED_VARIABLES",
    "EmulatorError",
    "Perturbation",
    "Tuning",
    "coverage",
    "generate",
    "load",
    "realisation",
    "regions",
    "true_links",
    "true_sensitivity",
]
