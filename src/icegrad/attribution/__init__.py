"""Gradient attribution of IceNet's ROI forecast to every input channel and pixel.

The entry points are :func:`attribute` (one input sample, several leads) and
:func:`attribute_forecast` (each lead explained from its own start month); the result follows the
schema in :mod:`icegrad.attribution.results`.
"""

from icegrad.attribution.api import attribute, attribute_forecast
from icegrad.attribution.errors import AttributionError

__all__ = ["AttributionError", "attribute", "attribute_forecast"]
