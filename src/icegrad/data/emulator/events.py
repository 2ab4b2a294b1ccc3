"""The three Septembers the letter is about, planted as weather (driver anomalies), not as sea ice.

Each entry adds, in one month, an innovation to one driver's standardised anomaly: a value in
standard deviations times a smooth bump over one sector (:mod:`icegrad.data.emulator.drivers`). The
AR(1) carries it on, so an event fades over the following months as weather does. The sea ice then
responds through the documented links and its memory only; nothing here touches SIC, and nothing
preconditions the pack except earlier drivers through the observable anomaly. A forecaster cannot
foresee an event: the optimal forecast treats it as the draw of innovations it is.

* **2007** (observed September extent 4.3 million km2): a strong "Arctic dipole" — high pressure over
  the Beaufort/Chukchi seas and low over Siberia in June–August, clear skies and sunshine in the
  Pacific sector in June–July, warm southerly air there in July–September.
* **2012** (3.6, the record low): a warm spring everywhere (May–June), a warm, sunny summer over the
  Pacific and Siberian sectors, and the great August cyclone over the central Arctic. The emulator
  moves anomalies with the climatological drift only, so the cyclone shows in ``psl`` and the
  winds but acts on the ice only through the warmth around it.
* **2013** (5.2): a cool, cloudy summer under a persistent central-Arctic low; little melt, ice kept
  across the Chukchi/East Siberian/Beaufort seas.

The amplitudes are calibrated for seed 0.

Observed extents: NSIDC Sea Ice Index v3 (Fetterer et al. 2017, doi:10.7265/N5K072F8).
"""

from __future__ import annotations

from typing import NamedTuple


class Plant(NamedTuple):
    """One planted mode value: year, month, latent driver, regional mode, value in standard deviations."""

    year: int
    month: int
    latent: str
    mode: str
    value: float


def _many(year: int, months: tuple[int, ...], latent: str, modes: tuple[str, ...],
          value: float) -> list[Plant]:
    return [Plant(year, m, latent, mode, value) for m in months for mode in modes]


PAC, SIB, ATL, CEN = "pacific_sector", "siberian_shelf", "atlantic_sector", "central_arctic"

EVENTS: tuple[Plant, ...] = tuple(
    # 2007: the Arctic dipole, sunshine and warm southerlies in the Pacific sector.
    _many(2007, (6,), "psl", (PAC,), 3.5) + _many(2007, (7, 8), "psl", (PAC,), 1.5)
    + _many(2007, (6, 7, 8), "psl", (SIB,), -1.5)
    + _many(2007, (6, 7), "rsds", (PAC,), 3.5)
    + _many(2007, (5, 6), "tas", (PAC,), 1.0) + _many(2007, (7,), "tas", (PAC,), 4.5)
    + _many(2007, (8, 9), "tas", (PAC,), 3.0)
    # 2012: warm spring everywhere, warm sunny summer, the August cyclone.
    + _many(2012, (5,), "tas", (PAC, SIB, ATL), 1.0)
    + _many(2012, (7,), "tas", (PAC, SIB), 1.6) + _many(2012, (8,), "tas", (PAC, SIB), 0.8)
    + _many(2012, (6, 7), "rsds", (PAC, SIB), 0.6)
    + _many(2012, (8,), "psl", (CEN,), -3.0)
    # 2013: cool, cloudy summer under a central-Arctic low, coldest over the Pacific sector.
    + _many(2013, (6,), "tas", (PAC,), -2.5) + _many(2013, (7, 8), "tas", (PAC,), -2.4)
    + _many(2013, (6, 7, 8), "rsds", (PAC,), -2.5)
    + _many(2013, (6,), "psl", (CEN, PAC), -2.0) + _many(2013, (7, 8), "psl", (CEN, PAC), -1.5)
    + _many(2013, (7,), "tas", (SIB, ATL), 2.0)
)
