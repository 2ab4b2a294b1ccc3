"""The emulated Arctic's tuning: the few numbers that set how predictable its sea ice is, as one value.

How much any forecaster can gain over the linear trend (:func:`icegrad.model.skill.ceiling`) depends on
how long the sea-ice anomaly remembers (``rho``, :data:`icegrad.data.emulator.sea_ice.RHO`), how much
unforeseeable noise the ice adds each month (the ``ice`` driver's standard deviation,
:data:`icegrad.data.emulator.drivers.DRIVERS`) and how hard the drivers push (the links' coefficients,
:data:`icegrad.data.emulator.links.DRIVER_LINKS`). Retuning them used to mean patching those module
constants in place, which the generator, the causal sensitivity and the optimal forecast could each see
differently, and which their caches could not see at all. A :class:`Tuning` is instead passed to
:func:`icegrad.data.emulator.rule.rule`, the one rule all three read; it is hashable, so every cache keys
on it, and :func:`icegrad.data.emulator.generate` records it in the dataset's ``emulator_tuning``
attribute (:data:`ATTRIBUTE`), from which :func:`tuning_of` reads it back, so a tuned dataset is never scored
against the default rule.

:data:`DEFAULT` is the module constants exactly: the book's emulated Arctic, bit for bit.

Example
-------
>>> DEFAULT == Tuning()
True
>>> Tuning.with_memory_floor(0.9).memory[:3]
(0.9, 0.9, 0.9)
>>> Tuning(memory=(0.9,) * 11)
Traceback (most recent call last):
...
icegrad.data.emulator.errors.EmulatorError: memory must be 12 values in [0, 1), ...
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

from icegrad.data.emulator.drivers import DRIVER_BY_NAME
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.sea_ice import RHO

ATTRIBUTE = "emulator_tuning"
"""The global attribute of a generated dataset that holds its tuning (:meth:`Tuning.to_json`)."""


def _floats(values: object) -> tuple[float, ...] | None:
    """``values`` (a list, tuple or array) as a tuple of floats, or None when it is not numbers."""
    if isinstance(values, str | bytes):
        return None
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Tuning:
    """The emulated Arctic's predictability knobs; the defaults are the book's (:data:`DEFAULT`).

    ``memory``: the anomaly's month-to-month memory ``rho`` into each calendar month (12 values in
    [0, 1), January first). ``ice_sd``: the sea ice's own innovation standard deviation in logits,
    ``(cold season, warm season)``, blended by :data:`icegrad.data.emulator.drivers.COLD`. ``link_scale``:
    a factor on every driver link's coefficient (the memory rows are ``memory`` itself).
    """

    memory: tuple[float, ...] = tuple(float(v) for v in RHO)
    ice_sd: tuple[float, float] = DRIVER_BY_NAME["ice"].std
    link_scale: float = 1.0

    def __post_init__(self) -> None:
        memory = _floats(self.memory)
        if memory is None or len(memory) != 12 or not all(0.0 <= v < 1.0 for v in memory):
            raise EmulatorError(f"memory must be 12 values in [0, 1), one per calendar month from January, "
                                f"got {self.memory!r}; pass e.g. Tuning.with_memory_floor(0.9).memory")
        ice_sd = _floats(self.ice_sd)
        if ice_sd is None or len(ice_sd) != 2 or not all(math.isfinite(v) and v > 0 for v in ice_sd):
            raise EmulatorError(f"ice_sd must be two positive numbers (cold season, warm season) in logits, "
                                f"got {self.ice_sd!r}; pass e.g. (0.25, 0.35) (the default)")
        scale = _floats([self.link_scale]) if not isinstance(self.link_scale, bool) else None
        if scale is None or not math.isfinite(scale[0]) or scale[0] < 0:
            raise EmulatorError(f"link_scale must be a finite number >= 0, got {self.link_scale!r}; pass "
                                "e.g. 1.0 (the default) or 1.2 to strengthen every driver link by 20 %")
        object.__setattr__(self, "memory", memory)  # tuples of floats: hashable, comparable, JSON-able
        object.__setattr__(self, "ice_sd", ice_sd)
        object.__setattr__(self, "link_scale", scale[0])

    @classmethod
    def with_memory_floor(cls, floor: float, **changes: object) -> Tuning:
        """The default memory raised to at least ``floor`` in every month (the other fields as given)."""
        return cls(memory=tuple(max(v, float(floor)) for v in DEFAULT.memory), **changes)

    @property
    def is_default(self) -> bool:
        """Whether this is the book's tuning (then caches and attributes keep their old form)."""
        return self == DEFAULT

    def as_dict(self) -> dict[str, object]:
        """The fields as plain lists and floats."""
        return {"memory": list(self.memory), "ice_sd": list(self.ice_sd), "link_scale": self.link_scale}

    def to_json(self) -> str:
        """One line of JSON (the dataset attribute and the cache parameter); floats round-trip exactly."""
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Tuning:
        """The tuning :meth:`to_json` wrote."""
        try:
            fields = json.loads(text)
        except (TypeError, ValueError) as err:
            raise EmulatorError(f"{ATTRIBUTE} is not JSON ({err}): {text!r}; regenerate the dataset with "
                                "icegrad.data.emulator.generate") from None
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(fields, Mapping) or not set(fields) <= known:
            raise EmulatorError(f"{ATTRIBUTE} must be a JSON object with keys among {sorted(known)}, got "
                                f"{text!r}; regenerate the dataset with icegrad.data.emulator.generate")
        return cls(**fields)

    def label(self) -> str:
        """A short human-readable name: ``default``, or the fields that differ from it."""
        if self.is_default:
            return "default"
        parts = []
        if self.memory != DEFAULT.memory:
            parts.append(f"memory min {min(self.memory):.2f} mean {sum(self.memory) / 12:.2f}")
        if self.ice_sd != DEFAULT.ice_sd:
            parts.append(f"ice_sd {self.ice_sd[0]:g} {self.ice_sd[1]:g}")
        if self.link_scale != DEFAULT.link_scale:
            parts.append(f"link_scale {self.link_scale:g}")
        return ", ".join(parts)


DEFAULT = Tuning()
"""The book's emulated Arctic: today's module constants, exactly."""


def tuning_of(ds_or_attrs: object) -> Tuning:
    """The tuning a dataset (or its ``attrs`` mapping) was generated with; :data:`DEFAULT` when it records
    none (every dataset generated before tunings existed used the defaults)."""
    attrs = getattr(ds_or_attrs, "attrs", ds_or_attrs)
    if not isinstance(attrs, Mapping):
        raise EmulatorError(f"expected an xarray dataset or its attrs, got {type(ds_or_attrs).__name__}")
    text = attrs.get(ATTRIBUTE)
    return DEFAULT if text is None else Tuning.from_json(text)
