"""The three Septembers the letter is about, planted as weather (driver anomalies), not as sea ice.

Each entry fixes one regional mode of one latent driver in one month to a value in standard
deviations of that mode and month (:mod:`icegrad.data.emulator.drivers`). The AR(1) series carries
on from the planted value, so an event fades over the following months as weather does. The sea ice
then responds through the documented links only; nothing here touches SIC.

* **2007** (observed September extent 4.3 million km2): a strong "Arctic dipole" — high pressure over
  the Beaufort/Chukchi seas and low over Siberia in June–August, clear skies and sunshine in the
  Pacific sector in June–July, warm southerly air there in July–September.
* **2012** (3.6, the record low): a warm spring everywhere (May–June), a warm, sunny summer over the
  Pacific and Siberian sectors, and the great August cyclone over the central Arctic. The emulator
  has no mechanical ice break-up, so the cyclone shows in ``psl`` and the winds but acts on the ice
  only through the warmth around it.
* **2013** (5.2): a cool, cloudy summer under a persistent central-Arctic low; little melt, ice kept
  across the Chukchi/East Siberian/Beaufort seas.

The hidden thickness anomaly (:mod:`icegrad.data.emulator.thickness`) moves every September too, so
these amplitudes are calibrated for seed 0 with it on; its one planted value, the thin young pack of
spring 2013, is documented there.

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
    _many(2007, (6, 7, 8), "psl", (PAC,), 3.0)
    + _many(2007, (6, 7, 8), "psl", (SIB,), -2.0)
    + _many(2007, (6, 7), "cloud", (PAC,), 3.0)
    + _many(2007, (7, 8, 9), "tas", (PAC,), 3.2)
    # 2012: warm spring everywhere, warm sunny summer, the August cyclone.
    + _many(2012, (5, 6), "tas", (PAC, SIB, ATL, CEN), 1.8)
    + _many(2012, (7, 8, 9), "tas", (PAC, SIB, CEN), 2.6)
    + _many(2012, (6, 7), "cloud", (PAC, SIB, CEN), 1.6)
    + _many(2012, (8,), "psl", (CEN,), -3.0)
    # 2013: cool, cloudy summer under a central-Arctic low, coldest over the Pacific sector.
    + _many(2013, (6, 7, 8, 9), "tas", (PAC,), -3.0)
    + _many(2013, (6, 7, 8), "cloud", (PAC,), -2.6)
    + _many(2013, (6, 7, 8), "psl", (CEN,), -2.0)
    + _many(2013, (6, 7, 8), "psl", (PAC,), -2.0)
    + _many(2013, (7, 8, 9), "tas", (SIB,), 2.4)
    + _many(2013, (6, 7), "cloud", (SIB,), 1.5)
    + _many(2013, (7, 8, 9), "tas", (ATL,), 2.2)
)
