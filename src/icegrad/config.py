"""The run configuration: the one place where every run default and its valid range is written.

A *run* of icegrad is one question asked of one model: which data (source, resolution), which region
(the two years and the month whose SIC difference draws the ROI, and the rule that draws it), which
forecast (target month, leads), which attribution (method, steps, baseline) and which network
(members, width, epochs, the realisations it pre-trains on, or released weights). :class:`RunConfig`
holds all of them. The CLI flags, the chapters' ``parameters`` cells, ``icegrad run``'s checks, the
sweep's jobs and the pipeline take their defaults from it, and ``tests/test_config.py`` fails if any of
them states a default of its own.

Checks that need no data happen when a :class:`RunConfig` is made, so a typo fails in
microseconds with one line naming the value and the fix (:class:`~icegrad.errors.ConfigError`).
Checks that need the data (years the source covers, a ROI that selects ocean) are made by the
pipeline before its first expensive stage.

Example
-------
>>> config = RunConfig(leads=(1, 3))
>>> config.target_month, config.leads, config.baseline
('2013-09', (1, 3), 'climatology')
>>> RunConfig.from_parameters({"steps": "16", "leads": "[1, 2]"}).steps
16
>>> RunConfig(leads=(7,))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
icegrad.errors.ConfigError: leads=(7,) is out of range: each lead must be ...
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from icegrad.errors import ConfigError

DATA_SOURCES = ("emulated", "nsidc", "osisaf", "observed")
"""Where the monthly data come from: the embedded emulated Arctic or a real product."""
RESOLUTIONS_KM = (25, 50, 100, 200)
"""Grid spacings that divide the 432 x 432 EASE-Grid 2.0 25 km grid exactly."""
METHODS = ("vanilla_gradient", "gradient_x_input", "integrated_gradients", "smoothgrad")
"""The attribution methods of :mod:`icegrad.attribution.methods`."""
BASELINES = ("zeros", "climatology", "counterfactual", "persistence")
"""Integrated-gradients baselines (see :mod:`icegrad.attribution.references`); ``counterfactual`` is the
input of the same forecast in ``reference_year``, ``persistence`` that of the same forecast one year
earlier."""
PAIRED_BASELINES = ("counterfactual", "persistence")
"""The baselines that are the input of the same forecast in another year (see :func:`paired_month`)."""
LEADS = (1, 2, 3, 4, 5, 6)
"""IceNet's forecast leads in months."""
FIRST_YEAR, LAST_YEAR = 1979, 2100
"""The widest span of years any source could cover; the data decide the actual span."""
OBSERVED_SOURCES = ("", "nsidc")
"""Observed SIC a run is compared with: the NSIDC CDR (embedded in ``data/``), or none."""
SELECTION_SETTINGS = ("coarse", "full", "reference")
"""Chapter 8's input selection (:mod:`icegrad.pages.input_selection`): retrain on the top-k channels at a
coarse setting, at the run's setting, or retrain nothing and state the rankings' top-k."""
RANDOMISATION_SETTINGS = ("coarse", "full", "cached")
"""Chapter 5's data randomisation (:func:`icegrad.pages.gradient_attribution.data_randomisation_section`):
train the true- and shuffled-target networks at the coarse setting, at the run's setting, or train nothing
and read the coarse networks from the cache (the section says when they are not there)."""
PRETRAIN_REALISATIONS = (1,)
"""The book's pre-training for the emulated Arctic: one other realisation (weather seed 1; the book's own
is 0), as IceNet pre-trained on CMIP6 runs before fine-tuning on observations. Measured on the test years
of realisations 0 and 2-10 (100 km, five members, ``benchmarks/science.py --realisations``): the
ensemble's mean gain over the linear trend rose from -0.19 to +0.47 points of binary accuracy, and it
rose in each of the eleven realisations 0-10 (see ``docs/EMULATOR.md``)."""
CHAPTER_CHOICES = {"selection_setting": SELECTION_SETTINGS, "randomisation_setting": RANDOMISATION_SETTINGS}
"""Chapter parameters that are not run fields but take one of a few values: checked before any work by
``icegrad run`` (:func:`icegrad.book.check_parameters`) and by the chapter itself (:func:`check_choice`)."""


def _option(default: Any, help: str, **rule: Any) -> Any:
    """A configuration field: its default, a one-line help text and its validity rule."""
    factory = (lambda: default) if isinstance(default, list | dict) else None
    metadata = {"help": help, **rule}
    if factory:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class RunConfig:
    """Every choice that decides a run's result, with the book's defaults (see the module docstring)."""

    data_source: str = _option("emulated", "monthly data: the embedded emulated Arctic or a real product",
                               choices=DATA_SOURCES)
    resolution_km: int = _option(100, "grid spacing in km", choices=RESOLUTIONS_KM)
    observed_source: str = _option("nsidc", "observed SIC the chapters compare the run with (a SIC-only "
                                   "IceNet trained on it); empty: no comparison", choices=OBSERVED_SOURCES)
    reference_year: int = _option(2007, "the low year the ROI compares against",
                                  bounds=(FIRST_YEAR, LAST_YEAR))
    target_year: int = _option(2013, "the year whose SIC the ROI compares", bounds=(FIRST_YEAR, LAST_YEAR))
    month: int = _option(9, "calendar month of the ROI comparison (1-12)", bounds=(1, 12))
    roi_rule: str = _option("threshold:0.5,sign:abs", "ROI rule (see icegrad.roi for the grammar)")
    target_month: str = _option("2013-09", "the forecast month being explained (YYYY-MM)")
    leads: tuple[int, ...] = _option(LEADS, "forecast leads in months (1-6)")
    method: str = _option("integrated_gradients", "attribution method", choices=METHODS)
    steps: int = _option(64, "integrated-gradients steps along the path", bounds=(1, 4096))
    baseline: str = _option("climatology", "integrated-gradients baseline", choices=BASELINES)
    members: int = _option(5, "ensemble members (seeds 36, 37, ...)", bounds=(1, 25))
    width: float = _option(0.25, "IceNet's filter factor: 2 in the paper, narrow for CPU",
                           bounds=(1 / 64, 4.0))
    epochs: int = _option(8, "maximum training epochs per member", bounds=(1, 1000))
    weights: str = _option("", "folder of IceNet release .h5 networks; empty: the book's networks")
    pretrain_realisations: tuple[int, ...] | None = _option(
        None, "weather seeds of other emulated Arctics the ensemble pre-trains on (its epochs, the training "
        "years) before fine-tuning, as IceNet pre-trained on CMIP6; empty: none; None: the book's, "
        f"{list(PRETRAIN_REALISATIONS)} for the emulated Arctic and none for an observed record",
        type=tuple, may_be_empty=True)
    train_years: tuple[int, int] = _option((1980, 2011), "first and last training years")
    val_years: tuple[int, int] = _option((2012, 2017), "first and last validation years")
    test_years: tuple[int, int] = _option((2018, 2020), "first and last test years")

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            _check_field(spec, getattr(self, spec.name))
        _check_target_month(self.target_month)
        _check_leads(self.leads)
        _check_years(self)
        _check_realisations(self)
        if self.reference_year == self.target_year:
            raise ConfigError(f"reference_year and target_year are both {self.target_year}: the ROI "
                              "compares two different years (e.g. reference_year=2007, target_year=2013)")

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], base: RunConfig | None = None) -> RunConfig:
        """A configuration from ``base`` (default: the defaults) with ``parameters`` replaced.

        Values may be strings as typed on a command line (``"16"``, ``"[1, 2]"``); they are parsed as
        Python literals and coerced to the field's type. Unknown names raise :class:`ConfigError`.
        """
        base = base or cls()
        known = {spec.name: spec for spec in dataclasses.fields(cls)}
        changes: dict[str, Any] = {}
        for name, value in parameters.items():
            if name not in known:
                raise ConfigError(f"unknown run parameter {name!r}; the parameters are: {', '.join(known)}")
            changes[name] = coerce(name, value, getattr(base, name))
        return dataclasses.replace(base, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (tuples as lists), e.g. for a store's manifest or a cache key."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in dataclasses.asdict(self).items()}


def paired_month(baseline: str, target_month: str, reference_year: int) -> str | None:
    """The month (YYYY-MM) whose forecast's input is ``baseline``'s, for a forecast of ``target_month``.

    Same calendar month, and each lead from its own start: ``reference_year``'s for the counterfactual,
    the year before ``target_month``'s for persistence; None for a baseline that is no forecast's input.
    It lives here, in the bottom layer, because the checks before a run (which import no TensorFlow)
    and the attribution engine both need it.

    >>> paired_month("counterfactual", "2013-09", 2007), paired_month("persistence", "2013-09", 2007)
    ('2007-09', '2012-09')
    """
    if baseline not in PAIRED_BASELINES:
        return None
    year, month = (int(part) for part in target_month.split("-")[:2])
    return f"{reference_year if baseline == 'counterfactual' else year - 1:04d}-{month:02d}"


def defaults() -> dict[str, Any]:
    """Every run parameter's default, by name (what the chapters' parameters cells must state)."""
    return DEFAULTS.as_dict()


def help_text(name: str) -> str:
    """The one-line help of run parameter ``name`` with its default (for CLI flags and docs)."""
    return f"{_field(name).metadata['help']} (default {getattr(DEFAULTS, name)!r})"


def is_sequence(name: str) -> bool:
    """Whether run parameter ``name`` holds a tuple (the CLI takes several values for its flag)."""
    spec = _field(name)
    return spec.metadata.get("type") is tuple or isinstance(getattr(DEFAULTS, name), tuple)


def may_be_empty(name: str) -> bool:
    """Whether run parameter ``name`` (a tuple) may hold nothing: the CLI then takes its flag alone."""
    return bool(_field(name).metadata.get("may_be_empty"))


def _field(name: str) -> dataclasses.Field[Any]:
    spec = next((s for s in dataclasses.fields(RunConfig) if s.name == name), None)
    if spec is None:
        raise ConfigError(f"unknown run parameter {name!r}")
    return spec


def coerce(name: str, value: Any, default: Any) -> Any:
    """Turn ``value`` (possibly a command-line string) into the type of ``default``, or say why not."""
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ConfigError(f"{name}={value!r} is not {_a(type(default).__name__)} like its default "
                              f"{default!r}") from None
    if (default is None or isinstance(default, tuple)) and isinstance(value, list | tuple):
        return tuple(value)  # every sequence run parameter is a tuple
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def check_choice(name: str, value: Any) -> Any:
    """``value`` if it is one of the choices :data:`CHAPTER_CHOICES` lists for ``name``, else a one-line
    :class:`ConfigError` naming them (before the chapter loads anything)."""
    choices = CHAPTER_CHOICES[name]
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {choices}")
    return value


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _check_field(spec: dataclasses.Field[Any], value: Any) -> None:
    default = spec.default if spec.default is not dataclasses.MISSING else spec.default_factory()  # type: ignore[misc]
    if value is None and default is None:  # "the book's choice", resolved where the data are known
        return
    expected = spec.metadata.get("type") or (float if isinstance(default, float) else type(default))
    wrong_type = isinstance(value, bool) or not isinstance(value, expected)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        wrong_type = False
    if wrong_type:
        raise ConfigError(f"{spec.name}={value!r} should be {_a(expected.__name__)} like its default "
                          f"{default!r}")
    choices = spec.metadata.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{spec.name}={value!r} is not allowed; choose one of {choices}")
    bounds = spec.metadata.get("bounds")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise ConfigError(f"{spec.name}={value!r} is out of range; it must lie between {bounds[0]} and "
                          f"{bounds[1]} (default {default!r})")


def _check_target_month(text: str) -> None:
    year, sep, month = text.partition("-")
    if not (sep and year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12
            and FIRST_YEAR <= int(year) <= LAST_YEAR):
        raise ConfigError(f"target_month={text!r} is not a month like '2013-09' (YYYY-MM, "
                          f"{FIRST_YEAR}-{LAST_YEAR})")


def _check_leads(leads: tuple[int, ...]) -> None:
    if not leads or any(isinstance(lead, bool) or not isinstance(lead, int) or lead not in LEADS
                        for lead in leads):
        raise ConfigError(f"leads={leads!r} is out of range: each lead must be a whole number of months "
                          "from 1 to 6 (e.g. leads=(1, 2, 3))")
    if len(set(leads)) != len(leads):
        raise ConfigError(f"leads={leads!r} repeats a lead; give each lead once")


def _check_years(config: RunConfig) -> None:
    spans = {"train_years": config.train_years, "val_years": config.val_years,
             "test_years": config.test_years}
    for name, span in spans.items():
        if (len(span) != 2 or any(isinstance(y, bool) or not isinstance(y, int) for y in span)
                or not FIRST_YEAR <= span[0] <= span[1] <= LAST_YEAR):
            raise ConfigError(f"{name}={span!r} must be (first, last) years in order, e.g. (1980, 2011)")
    ordered = list(spans.items())
    for (name_a, span_a), (name_b, span_b) in pairwise(ordered):
        if span_b[0] <= span_a[1]:
            raise ConfigError(f"{name_b}={span_b!r} must start after {name_a}={span_a!r} ends: the splits "
                              "are in time order without overlap")


BOOK_REALISATION = 0
"""The weather seed of the book's emulated Arctic (:func:`icegrad.data.emulator.generate`'s default)."""


def pretraining_for(data_source: str, realisations: Sequence[int] | None) -> tuple[int, ...]:
    """The realisations a run on ``data_source`` pre-trains on: ``realisations`` as given, or for None the
    book's: :data:`PRETRAIN_REALISATIONS` for the emulated Arctic, none for an observed record (its
    networks see the record alone, and the realisations are the emulator's).

    >>> pretraining_for("emulated", None), pretraining_for("nsidc", None), pretraining_for("emulated", ())
    ((1,), (), ())
    """
    if realisations is None:
        return PRETRAIN_REALISATIONS if data_source == "emulated" else ()
    return tuple(realisations)


def _check_realisations(config: RunConfig) -> None:
    seeds = config.pretrain_realisations
    if not seeds:
        return
    if any(isinstance(seed, bool) or not isinstance(seed, int) or seed < 0 for seed in seeds) \
            or len(set(seeds)) != len(seeds):
        raise ConfigError(f"pretrain_realisations={seeds!r} must be distinct weather seeds, whole numbers "
                          "from 1 (e.g. (1,))")
    if BOOK_REALISATION in seeds:
        raise ConfigError(f"pretrain_realisations={seeds!r} names realisation {BOOK_REALISATION}, the book's "
                          "own weather, which the ensemble fine-tunes and is tested on; pre-train on other "
                          "seeds (e.g. (1,))")
    if config.data_source != "emulated":
        raise ConfigError(f"pretrain_realisations are other realisations of the emulated Arctic, but "
                          f"data_source={config.data_source!r}; drop them, or use data_source='emulated'")
    check_not_pretraining_weights(config.weights, seeds)


def check_not_pretraining_weights(weights: object, realisations: object) -> None:
    """IceNet's released networks (``weights``) are loaded, not trained, so they cannot pre-train: a
    one-line :class:`ConfigError` when both are given."""
    if weights and realisations:
        raise ConfigError(f"weights={str(weights)!r} loads IceNet's released networks, which train nothing "
                          "here; drop pretrain_realisations or weights")


DEFAULTS = RunConfig()
"""The defaults as a configuration: what function signatures across the package take their defaults from."""
