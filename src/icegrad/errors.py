"""The one base class of every error icegrad raises for a user's input.

Every check on something a user chose (a parameter, a file, a folder, a date) raises a subclass of
:class:`IcegradError`, whose message names the bad value and the fix in one line. The CLI prints those
as ``icegrad: error: ...`` without a traceback; anything else is a bug and keeps its traceback.
It derives from ``ValueError`` so that generic code that catches ``ValueError`` keeps working.
"""

from __future__ import annotations


class IcegradError(ValueError):
    """A user's input that icegrad cannot honour; the message names the value and the fix."""


class ConfigError(IcegradError):
    """A run configuration value out of its valid range (see :mod:`icegrad.config`)."""


class PathError(IcegradError):
    """An output file or store folder that cannot be written where the user pointed it."""
