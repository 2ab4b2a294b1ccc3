"""The one error type of the attribution engine.

Every check on user input raises :class:`AttributionError`, a ``ValueError``, so callers can catch
attribution problems specifically while generic code that catches ``ValueError`` still works.
Messages name the problem and the fix.
"""

from __future__ import annotations

from icegrad.errors import IcegradError


class AttributionError(IcegradError):
    """Bad input to an attribution: empty ROI, lead out of range, unknown method, NaNs, ..."""
