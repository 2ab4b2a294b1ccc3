"""icegrad: gradient attribution for IceNet sea-ice forecasts.

The executable companion to Joakimsen et al. (2024), *Interrogating Sea Ice Predictability With
Gradients*, IEEE Geoscience and Remote Sensing Letters 21:2000805.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("icegrad")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
