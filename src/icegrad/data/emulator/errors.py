"""The one exception the emulator raises for requests it cannot honour."""

from icegrad.errors import IcegradError


class EmulatorError(IcegradError):
    """Parameters the emulated Arctic cannot honour (dates out of range, bad seed, resolution, input)."""
