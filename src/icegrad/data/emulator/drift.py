"""Wind-driven ice drift: the anomaly ``a`` moves with the ice, so a cause can lie upstream of the ROI.

Free drift in the monthly mean: the ice moves at :data:`DRIFT_FACTOR` of the surface wind speed,
turned :data:`TURN_DEG` to its right (the Ekman turning of the ice-ocean stress). The wind is the
month's *climatological* surface wind from the sea-level-pressure climatology
(:func:`icegrad.data.emulator.climate.surface_winds`), so the drift is a known linear operator
``A_m`` per calendar month and the best forecast stays exact. Anomalous winds act on the ice through
the documented ``psl`` links.

Each month the anomaly is advected semi-Lagrangianly: the value at a cell is the bilinear
interpolation of last month's anomaly at the departure point ``r - v * one month``. Land has no
anomaly (the rule multiplies it by the ocean mask), so drift from the coast brings none.
"""

from __future__ import annotations

import numpy as np

from icegrad.data.emulator import climate

DRIFT_FACTOR = 0.02
TURN_DEG = 30.0
MONTH_S = 30.44 * 86400.0


def ice_velocity(psl: np.ndarray, lat: np.ndarray, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Ice velocity (m s-1) along the grid's x and y axes from a pressure field."""
    u, v = climate.surface_winds(psl, lat, spacing_m)
    turn = np.deg2rad(-TURN_DEG)  # clockwise: to the right of the wind
    return (DRIFT_FACTOR * (u * np.cos(turn) - v * np.sin(turn)),
            DRIFT_FACTOR * (u * np.sin(turn) + v * np.cos(turn)))


def departure_operator(u: np.ndarray, v: np.ndarray, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices ``(cells, 4)`` and bilinear weights ``(cells, 4)`` of each cell's departure point."""
    ny, nx = u.shape
    rows, cols = np.meshgrid(np.arange(ny, dtype="float64"), np.arange(nx, dtype="float64"), indexing="ij")
    col = np.clip(cols - u * MONTH_S / spacing_m, 0.0, nx - 1.0)
    row = np.clip(rows + v * MONTH_S / spacing_m, 0.0, ny - 1.0)  # rows run north (+y) to south
    r0 = np.minimum(np.floor(row).astype(int), ny - 2)
    c0 = np.minimum(np.floor(col).astype(int), nx - 2)
    fr, fc = row - r0, col - c0
    index = np.stack([r0 * nx + c0, r0 * nx + c0 + 1, (r0 + 1) * nx + c0, (r0 + 1) * nx + c0 + 1], axis=-1)
    weight = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], axis=-1)
    return index.reshape(-1, 4), weight.reshape(-1, 4)


def advect(field: np.ndarray, operator: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Apply a departure operator to a ``(y, x)`` field."""
    index, weight = operator
    return (field.ravel()[index] * weight).sum(axis=1).reshape(field.shape)


def adjoint(field: np.ndarray, operator: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The transpose of :func:`advect`: where a ``(y, x)`` sensitivity came from, one month earlier."""
    index, weight = operator
    out = np.zeros(field.size)
    np.add.at(out, index.ravel(), (field.ravel()[:, None] * weight).ravel())
    return out.reshape(field.shape)
