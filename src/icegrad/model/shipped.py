"""The book's trained networks, shipped in ``data/networks/`` so that readers never train at defaults.

IceNet's readers load its 25 released networks instead of training them; the book's readers load the
book's own ensembles the same way. ``icegrad train --release data/networks`` (``make networks``) trains
each ensemble the book uses at its defaults through the pipeline's own recipe (or takes it from the
cache), and writes it here with a manifest; :func:`icegrad.model.train.load_or_train` then serves an
ensemble from here when no cached one exists and the request matches exactly (same training
configuration, same data fingerprint, same :data:`~icegrad.model.train.TRAINING_RECIPE`), after
checking every file's SHA-256.

Layout of a release folder::

    manifest.json              every ensemble: what it was trained with, fingerprints, skill, checksums
                               (and, for one trained on chosen inputs, how they were chosen)
    <name>/member_seed36.npz   one member's weights (kernels in float16, the rest float32), compressed
    <name>/normalisation.nc    the normalisation statistics the members were trained with

A member is stored as weights, not as a Keras file: the network is rebuilt by
:func:`~icegrad.model.icenet.build_icenet` from the architecture in the manifest and the weights set
into it. Convolution kernels go to float16, which halves the size and is kept only when it moves the
ensemble's test-year binary accuracy by at most :data:`MAX_ACCURACY_CHANGE` points at every lead
(:func:`choose_precision`; the release command measures it, else the ensemble ships in float32).

The code fingerprint (:func:`code_fingerprint`) hashes the source files that decide the trained weights
(:data:`CODE_FILES`). A mismatch when loading is reported on stderr and the networks are still used:
the request already matched in configuration, data and training recipe, so a mismatch mostly means an
edit that does not change the weights, and retraining for it would cost every reader (Binder included)
the training the shipped networks exist to spare. ``tests/model/test_shipped.py`` is the hard guard:
it fails while the shipped networks are stale.

Example
-------
With ``ens`` a trained two-member ensemble (see :mod:`icegrad.model.train`) and the parameters that
name it, written as a release and read back, checksums verified:

>>> folder = Path(tempfile.mkdtemp())
>>> params = {"config": {"members": 2}, "data": "0123456789abcdef", "recipe": 2}
>>> manifest = write_release(folder, [Release("emulated_200km", params, ens, "float16")])
>>> sorted(manifest["ensembles"]["emulated_200km"]["files"])
['emulated_200km/member_seed36.npz', 'emulated_200km/member_seed37.npz', 'emulated_200km/normalisation.nc']
>>> find_shipped(params, folder)
<IceNetEnsemble: 2 member(s), 54x54 grid, 50 channels, data_source='emulated'>
>>> find_shipped({**params, "data": "another dataset"}, folder) is None
True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from icegrad.cache import file_digest
from icegrad.errors import IcegradError
from icegrad.files import read_netcdf, write_netcdf, write_text
from icegrad.model.ensemble import IceNetEnsemble, replace_dir
from icegrad.model.icenet import build_icenet
from icegrad.paths import data_dir

MANIFEST_FILE = "manifest.json"
FORMAT = 1
"""Version of the release folder's layout; a manifest of another format is not read."""

MAX_ACCURACY_CHANGE = 0.1
"""Largest change (percentage points, any lead) of the ensemble-mean test-year binary accuracy that
storing kernels in float16 may cause; beyond it the ensemble ships in float32."""

SMALL_ARRAY = 4096
"""Arrays with fewer elements (biases, batch-norm statistics, the temperature) stay float32: they are a
negligible share of the size and the ones most sensitive to rounding."""

CODE_FILES = (
    "inputs/build.py", "inputs/normalisation.py", "inputs/linear_trend.py", "inputs/labels.py",
    "inputs/splits.py", "inputs/real_record.py", "inputs/start_months.py",
    "model/icenet.py", "model/train.py", "model/samples.py", "model/losses.py", "model/shuffled.py",
)
"""Source files (globs under ``src/icegrad``) that decide the weights training produces from given data:
how inputs, targets, normalisation and splits are made from the data, and the network, its loss and its
training. The data themselves are covered by the data fingerprint (a hash of every value,
:func:`icegrad.cache.dataset_fingerprint`): it changes exactly when the emulator's output or the
embedded observed record does, so the emulator's code is not listed (listing it made an edit of the
optimal forecast, which training never runs, mark the networks stale). The chapters' use of the
networks is not listed either, since it does not change them."""

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


class ShippedNetworksError(IcegradError):
    """Shipped networks that cannot be used: a damaged or missing file, or an unreadable manifest."""


@dataclass
class Release:
    """One ensemble to ship: its name (folder), the parameters that name it (the cache's, see
    :func:`icegrad.model.train.model_cache_key`), the ensemble, its storage precision, its skill and, for
    a network trained on chosen inputs, how they were chosen (``chosen``, written to the manifest as is)."""

    name: str
    params: Mapping[str, Any]
    ensemble: IceNetEnsemble
    precision: str = "float16"
    skill: Mapping[str, Any] = field(default_factory=dict)
    chosen: Mapping[str, Any] | None = None


def default_folder() -> Path:
    """``data/networks`` of the embedded data folder (where ``make networks`` writes)."""
    return data_dir() / "networks"


def code_files(package_dir: Path = _PACKAGE_DIR) -> list[Path]:
    """The files of :data:`CODE_FILES`, sorted; a pattern matching nothing is an error (a moved file)."""
    files = []
    for pattern in CODE_FILES:
        matched = sorted(package_dir.glob(pattern))
        if not matched:
            raise ShippedNetworksError(f"code fingerprint pattern {pattern!r} matches no file under "
                                       f"{package_dir}; update icegrad.model.shipped.CODE_FILES")
        files += matched
    return files


def code_fingerprint(package_dir: Path = _PACKAGE_DIR) -> str:
    """SHA-256 over the names and bytes of :func:`code_files` (names relative to the package)."""
    digest = hashlib.sha256()
    for path in code_files(package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def normalised(params: Mapping[str, Any]) -> Any:
    """``params`` as JSON reads them back (tuples become lists), so a request compares with a manifest."""
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def _architecture(ensemble: IceNetEnsemble) -> dict[str, Any]:
    model = ensemble.members[0]
    height, width, n_channels = (int(n) for n in model.input_shape[1:])
    n_classes, n_leads = (int(n) for n in model.output_shape[-2:])
    return {"height": height, "width": width, "n_channels": n_channels, "n_classes": n_classes,
            "n_leads": n_leads, "filters_factor": float(ensemble.manifest["filters_factor"])}


def _save_member(model: Any, path: Path, precision: str) -> None:
    arrays = {}
    for i, weight in enumerate(model.get_weights()):
        small = weight.size < SMALL_ARRAY
        arrays[f"w{i:03d}"] = weight.astype("float32" if precision == "float32" or small else precision)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def _load_member(path: Path, architecture: Mapping[str, Any]) -> Any:
    model = build_icenet(architecture["height"], architecture["width"], architecture["n_channels"],
                         architecture["filters_factor"], architecture["n_leads"], architecture["n_classes"])
    with np.load(path) as stored:
        weights = [stored[f"w{i:03d}"].astype("float32") for i in range(len(stored.files))]
    expected = [tuple(w.shape) for w in model.get_weights()]
    if [w.shape for w in weights] != expected:
        raise ShippedNetworksError(f"{path} holds weights of another architecture than its manifest "
                                   "states; remake the shipped networks with `make networks`")
    model.set_weights(weights)
    return model


def write_release(folder: str | os.PathLike[str], releases: Sequence[Release]) -> dict[str, Any]:
    """Write ``releases`` to ``folder`` (replacing it as a whole, atomically) and return its manifest."""
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        entries = {}
        for release in releases:
            (tmp / release.name).mkdir()
            member_files = []
            for name, model in zip(release.ensemble.member_names, release.ensemble.members, strict=True):
                member_files.append(f"{release.name}/member_{name}.npz")
                _save_member(model, tmp / member_files[-1], release.precision)
            stats_file = f"{release.name}/normalisation.nc"
            write_netcdf(release.ensemble.stats, tmp / stats_file)
            files = {}
            for name in [*member_files, stats_file]:
                files[name] = {"bytes": (tmp / name).stat().st_size, "sha256": file_digest(tmp / name)}
            entries[release.name] = {
                "parameters": normalised(release.params), "precision": release.precision,
                "architecture": _architecture(release.ensemble), "channels": list(release.ensemble.channels),
                "member_files": member_files, "stats_file": stats_file, "files": files,
                "skill": normalised(release.skill), "training": normalised(release.ensemble.manifest),
            }
            if release.chosen is not None:
                entries[release.name]["chosen"] = normalised(release.chosen)
        manifest = {"format": FORMAT, "code_fingerprint": code_fingerprint(),
                    "code_files": [p.relative_to(_PACKAGE_DIR).as_posix() for p in code_files()],
                    "ensembles": entries}
        write_text(json.dumps(manifest, indent=1, sort_keys=True), tmp / MANIFEST_FILE)
        replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def read_manifest(folder: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """The release manifest in ``folder`` (default :func:`default_folder`), or None if there is none."""
    path = Path(folder or default_folder()) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        dict(manifest["ensembles"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ShippedNetworksError(f"{path} cannot be read ({type(err).__name__}: {err}); remake the shipped "
                                   "networks with `make networks`") from None
    return manifest if manifest.get("format") == FORMAT else None


def verify_files(folder: Path, files: Mapping[str, Mapping[str, Any]]) -> None:
    """Check each file's size and SHA-256 against ``files``; one clear error naming a bad file."""
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise ShippedNetworksError(f"shipped network file {path} is missing; restore it from git "
                                       "(git checkout -- data/networks) or remake them: `make networks`")
        if path.stat().st_size != expected["bytes"] or file_digest(path) != expected["sha256"]:
            raise ShippedNetworksError(f"shipped network file {path} does not match its SHA-256 checksum in "
                                       f"{folder / MANIFEST_FILE}; it is damaged: restore it from git or "
                                       "remake the networks with `make networks`")


def find_shipped(params: Mapping[str, Any],
                 folder: str | os.PathLike[str] | None = None) -> IceNetEnsemble | None:
    """The shipped ensemble trained with exactly ``params`` (configuration, data fingerprint, recipe),
    its files verified, or None when none matches (then the caller trains)."""
    folder = Path(folder or default_folder())
    manifest = read_manifest(folder)
    if manifest is None:
        return None
    wanted = normalised(params)
    for name, entry in manifest["ensembles"].items():
        if entry.get("parameters") == wanted:
            verify_files(folder, entry["files"])
            if manifest.get("code_fingerprint") != code_fingerprint():
                print(f"icegrad: the shipped networks {folder / name} were made by other code than this "
                      "(code fingerprint differs); using them, as configuration and data match. Run "
                      "`make networks` to remake them", file=sys.stderr, flush=True)
            return _load_entry(folder, entry)
    return None


def is_shipped(params: Mapping[str, Any], folder: str | os.PathLike[str] | None = None) -> bool:
    """Whether the release lists an ensemble trained with exactly ``params`` (files not read: a reader that
    must not train asks this before :func:`find_shipped` loads and verifies it)."""
    manifest = read_manifest(Path(folder or default_folder()))
    wanted = normalised(params)
    return manifest is not None and any(entry.get("parameters") == wanted
                                        for entry in manifest["ensembles"].values())


def _load_entry(folder: Path, entry: Mapping[str, Any]) -> IceNetEnsemble:
    members = [_load_member(folder / name, entry["architecture"]) for name in entry["member_files"]]
    stats = read_netcdf(folder / entry["stats_file"])
    manifest = {**entry["training"], "shipped": str(folder), "shipped_precision": entry["precision"]}
    return IceNetEnsemble(members, stats, entry["channels"], manifest)


def choose_precision(float32_accuracy: Sequence[float], float16_accuracy: Sequence[float]) -> str:
    """``"float16"`` if it keeps every lead's binary accuracy within :data:`MAX_ACCURACY_CHANGE` points of
    float32's, else ``"float32"``.

    >>> choose_precision([94.0, 93.1], [94.05, 93.0])
    'float16'
    >>> choose_precision([94.0, 93.1], [94.0, 92.9])
    'float32'
    """
    change = np.abs(np.asarray(float16_accuracy, "float64") - np.asarray(float32_accuracy, "float64"))
    return "float16" if float(change.max()) <= MAX_ACCURACY_CHANGE + 1e-9 else "float32"
