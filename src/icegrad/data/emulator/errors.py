"""The one exception the emulator raises for requests it cannot honour."""


class EmulatorError(ValueError):
    """Parameters the emulated Arctic cannot honour (dates out of range, bad seed, resolution, input)."""
