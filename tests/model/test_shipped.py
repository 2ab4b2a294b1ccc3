"""Shipped networks (``data/networks``): fresh against the code, data and defaults; verified on load;
served by ``load_or_train`` before training; made by the release recipe, which a coarse run exercises.

The first two tests guard the repository's own release: they fail, naming ``make networks``, when the
shipped networks no longer match what the book at its defaults would train (another training
configuration or recipe, other data, or other emulator, input or model code). They skip only when
``data/networks`` is absent.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import papermill
import pytest

from icegrad.cli import release_networks, release_runs
from icegrad.config import RunConfig
from icegrad.errors import IcegradError
from icegrad.inputs.build import fit_normalisation
from icegrad.model import shipped, train
from icegrad.model.ensemble import IceNetEnsemble, base_manifest
from icegrad.model.icenet import build_icenet, temperature_layer
from icegrad.model.shipped import Release, ShippedNetworksError, find_shipped, read_manifest, write_release
from icegrad.model.shuffled import SHUFFLED_TARGETS
from icegrad.model.train import TrainConfig, load_or_train, model_parameters
from icegrad.model.weights import CHECKSUM_FILE, LegacyWeightsError, verify_release

REPOSITORY_RELEASE = Path(__file__).resolve().parents[2] / "data" / "networks"
REMAKE = "run `make networks` (icegrad train --release data/networks) and commit data/networks"


def _repository_manifest() -> dict:
    manifest = read_manifest(REPOSITORY_RELEASE)
    if manifest is None:
        pytest.skip(f"no shipped networks in {REPOSITORY_RELEASE}")
    return manifest


def test_shipped_networks_are_intact_and_made_by_this_code():
    manifest = _repository_manifest()
    for name, entry in manifest["ensembles"].items():
        try:
            shipped.verify_files(REPOSITORY_RELEASE, entry["files"])
        except ShippedNetworksError as err:
            pytest.fail(f"shipped ensemble {name}: {err}")
    listed = manifest["code_files"]
    now = [p.relative_to(shipped._PACKAGE_DIR).as_posix() for p in shipped.code_files()]
    assert listed == now, ("the source files that decide the trained weights changed "
                           f"({sorted(set(listed) ^ set(now))}) since the networks were made: {REMAKE}")
    assert manifest["code_fingerprint"] == shipped.code_fingerprint(), (
        "the shipped networks are stale: the emulator, input or model code changed since they were made "
        f"(icegrad.model.shipped.CODE_FILES); {REMAKE}")


@pytest.mark.slow  # builds the emulated Arctic at 100 km when the cache lacks it (~20 s of CPU)
def test_shipped_networks_are_what_the_book_trains_at_its_defaults():
    manifest = _repository_manifest()
    expected = {run.name: shipped.normalised(run.params) for run in release_runs(RunConfig())}
    expected |= _selection_expected(manifest)
    assert sorted(manifest["ensembles"]) == sorted(expected), (
        f"the book at its defaults trains {sorted(expected)} but data/networks holds "
        f"{sorted(manifest['ensembles'])}; {REMAKE}")
    for name, params in expected.items():
        held = manifest["ensembles"][name]["parameters"]
        changed = [key for key in ("config", "data", "recipe") if held.get(key) != params.get(key)]
        assert not changed, (f"the shipped {name} networks are stale: their training {' and '.join(changed)} "
                             "differ from what the book trains at its defaults (configuration, data "
                             f"fingerprint, TRAINING_RECIPE); {REMAKE}")


def _selection_expected(manifest: dict) -> dict[str, dict]:
    """What ch. 8 trains at its default selection setting for the channels each shipped network holds.

    The random subset is drawn again here. The gradient subset's choice is not recomputed (it needs the
    100 km ensemble's integrated gradients over six leads, minutes of CPU); the test checks instead that
    it was chosen by explaining the shipped book ensemble (the weights' digests) at the run's defaults. An
    attribution change that moves the top k shows as ch. 8 training in a build (its report's time).
    """
    from icegrad import book, pipeline
    from icegrad.cache import model_digest
    from icegrad.evaluation import selection
    from icegrad.pages import input_selection

    chapter = book.find_chapter(book.repository_root(), "08")
    assert papermill.inspect_notebook(str(chapter))["selection_setting"]["default"] == '"coarse"', (
        "ch. 8's default selection setting is no longer 'coarse', whose networks the release ships "
        "(icegrad.cli.selection_runs)")
    config, plan, setting = RunConfig(), input_selection.PLANS["coarse"], selection.SETTINGS["coarse"]
    networks = find_shipped(release_runs(config)[0].params, REPOSITORY_RELEASE)
    ds = pipeline.dataset(config.data_source, setting.resolution_km)
    drawn = selection.subsets(list(networks.channels), {"random": None}, plan.ks)
    expected = {}
    for chooser in plan.choosers:
        for k in plan.ks:
            name = f"{config.data_source}_{setting.resolution_km}km_coarse_{chooser}{k}"
            entry = manifest["ensembles"].get(name)
            if entry is None:
                expected[name] = {}
                continue
            if chooser == "random":
                assert tuple(entry["channels"]) == drawn[("random", k)], (
                    f"{name}: not the chapter's random draw; {REMAKE}")
            else:
                explained = entry["chosen"]["explained"]
                assert explained["weights_hash"] == [model_digest(m) for m in networks.members], (
                    f"{name}: chosen by explaining other weights than the shipped book ensemble's; {REMAKE}")
                settings = ("target_month", "leads", "method", "baseline", "steps")
                defaults = {key: getattr(config, key) for key in settings} | {"leads": list(config.leads)}
                assert {key: explained[key] for key in settings} == defaults, (
                    f"{name}: chosen by an attribution at other settings than the defaults; {REMAKE}")
            params = model_parameters(ds, selection.train_config(ds, entry["channels"], setting))
            expected[name] = shipped.normalised(params)
    return expected


def _ensemble(ds, seeds=(36, 37), factor=0.125) -> IceNetEnsemble:
    """An untrained ensemble: checksums and round trips need weights, not skill."""
    members = [build_icenet(ds.sizes["y"], ds.sizes["x"], n_channels=3, filters_factor=factor, seed=s)
               for s in seeds]
    for i, member in enumerate(members):
        temperature_layer(member).temperature.assign(1.25 + i)
    manifest = base_manifest(data_source=ds.attrs["data_source"], seeds=list(seeds), filters_factor=factor,
                             splits={"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)})
    stats = fit_normalisation(ds, (1980, 1983))
    return IceNetEnsemble(members, stats, ["siconca_abs_1", "land", "cos_month"], manifest)


PARAMS = {"config": {"members": 2, "train_years": (1980, 2011)}, "data": "0123456789abcdef", "recipe": 2}


@pytest.fixture
def release(sic_dataset, tmp_path) -> tuple[Path, IceNetEnsemble]:
    ens = _ensemble(sic_dataset)
    folder = tmp_path / "networks"
    write_release(folder, [Release("emulated_200km", PARAMS, ens, "float16")])
    return folder, ens


def test_release_round_trip_keeps_weights_to_float16_precision_and_small_arrays_exact(release):
    folder, ens = release
    loaded = find_shipped(PARAMS, folder)
    assert loaded.member_names == ens.member_names and loaded.channels == ens.channels
    for original, copy in zip(ens.members, loaded.members, strict=True):
        for a, b in zip(original.get_weights(), copy.get_weights(), strict=True):
            if a.size < shipped.SMALL_ARRAY:
                np.testing.assert_array_equal(a, b)  # biases, batch norm, temperature: float32
            else:
                np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-7)
                assert not np.array_equal(a, b)  # really stored in float16
    assert float(temperature_layer(loaded.members[1]).temperature.numpy()) == 2.25
    assert loaded.manifest["shipped_precision"] == "float16"


def test_only_the_exact_parameters_are_served(release):
    folder, _ = release
    assert find_shipped({**PARAMS, "data": "fedcba9876543210"}, folder) is None
    assert find_shipped({**PARAMS, "recipe": 3}, folder) is None
    assert find_shipped({**PARAMS, "config": {**PARAMS["config"], "members": 3}}, folder) is None
    assert find_shipped(PARAMS, folder.parent / "absent") is None


def test_a_damaged_or_missing_file_is_one_clear_error_naming_it_and_the_fix(release):
    folder, _ = release
    member = folder / "emulated_200km" / "member_seed37.npz"
    data = bytearray(member.read_bytes())
    data[len(data) // 2] ^= 0xFF
    member.write_bytes(bytes(data))
    with pytest.raises(ShippedNetworksError, match=r"seed37\.npz does not match its SHA-256.*networks`"):
        find_shipped(PARAMS, folder)
    member.unlink()
    with pytest.raises(ShippedNetworksError, match=r"member_seed37\.npz is missing.*make networks"):
        find_shipped(PARAMS, folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ShippedNetworksError, match=r"manifest\.json cannot be read.*make networks"):
        find_shipped(PARAMS, folder)


def test_other_code_is_reported_and_the_networks_still_used(release, capsys):
    folder, _ = release
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["code_fingerprint"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert find_shipped(PARAMS, folder) is not None
    assert "made by other code" in capsys.readouterr().err
    assert find_shipped(PARAMS, folder) is not None  # and without the warning when the code matches:
    manifest["code_fingerprint"] = shipped.code_fingerprint()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    find_shipped(PARAMS, folder)
    assert capsys.readouterr().err == ""


def test_the_code_fingerprint_follows_every_listed_file(tmp_path):
    package = tmp_path / "icegrad"
    shutil.copytree(shipped._PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = shipped.code_fingerprint(package)
    assert shipped.code_fingerprint(package) == before
    for name in ("inputs/build.py", "model/train.py", "model/icenet.py"):
        path = package / name
        original = path.read_text()
        path.write_text(original + "\n# edited\n")
        assert shipped.code_fingerprint(package) != before, name
        path.write_text(original)
    # not training code; the emulator's output is covered by the data fingerprint instead
    for name in ("attribution/api.py", "data/emulator/optimal.py", "data/emulator/sea_ice.py"):
        (package / name).write_text("# not a training file\n")
    assert shipped.code_fingerprint(package) == before
    (package / "model" / "losses.py").unlink()
    with pytest.raises(ShippedNetworksError, match=r"model/losses\.py"):
        shipped.code_fingerprint(package)


def test_load_or_train_serves_cache_then_shipped_then_trains(release, sic_dataset, isolated_cache,
                                                             monkeypatch):
    folder, ens = release
    config = TrainConfig(members=2, filters_factor=0.125, channels=tuple(ens.channels))
    params = model_parameters(sic_dataset, config)
    write_release(folder, [Release("emulated_200km", params, ens, "float16")])
    monkeypatch.setattr(shipped, "default_folder", lambda: folder)
    trained = []

    def fake_train(ds, config, pretrain=None):
        trained.append(config)
        return ens

    monkeypatch.setattr(train, "train_ensemble", fake_train)
    served = load_or_train(sic_dataset, config)
    assert trained == [] and served.manifest["shipped"] == str(folder)
    assert load_or_train(sic_dataset, config).manifest["created"] == served.manifest["created"]  # cached
    load_or_train(sic_dataset, config, refresh=True)
    assert trained == [config]  # refresh retrains: it skips the cache and the shipped networks
    other = TrainConfig(members=2, filters_factor=0.125, channels=tuple(ens.channels), epochs=3)
    load_or_train(sic_dataset, other)
    assert trained == [config, other]  # no shipped ensemble for this configuration


def test_refresh_in_the_environment_retrains_too(release, sic_dataset, isolated_cache, monkeypatch):
    folder, ens = release
    config = TrainConfig(members=2, filters_factor=0.125, channels=tuple(ens.channels))
    write_release(folder, [Release("emulated_200km", model_parameters(sic_dataset, config), ens, "float16")])
    monkeypatch.setattr(shipped, "default_folder", lambda: folder)
    monkeypatch.setattr(train, "train_ensemble", lambda ds, config, pretrain=None: ens)
    monkeypatch.setenv("ICEGRAD_REFRESH", "1e12")
    assert "shipped" not in load_or_train(sic_dataset, config).manifest


def test_icenet_release_files_are_checked_against_sha256sums(tmp_path):
    files = [tmp_path / f"network_tempscaled_{seed}.h5" for seed in (36, 37)]
    for i, path in enumerate(files):
        path.write_bytes(bytes([i]) * 100)
    verify_release(files)  # no listing: nothing to check
    from icegrad.cache import file_digest

    (tmp_path / CHECKSUM_FILE).write_text("".join(f"{file_digest(p)}  {p.name}\n" for p in files))
    verify_release(files)
    files[1].write_bytes(b"another file")
    with pytest.raises(LegacyWeightsError, match=r"network_tempscaled_37\.h5 does not match its SHA-256"):
        verify_release(files)
    (tmp_path / CHECKSUM_FILE).write_text(f"{file_digest(files[0])} *{files[0].name}\n")
    with pytest.raises(LegacyWeightsError, match=r"network_tempscaled_37\.h5 is not listed"):
        verify_release(files)
    (tmp_path / CHECKSUM_FILE).write_text("not a checksum line\n")
    with pytest.raises(LegacyWeightsError, match="line 1"):
        verify_release(files)


@pytest.mark.slow  # trains at 200 km on the embedded NSIDC record: one member for one epoch, four coarse ones
def test_the_release_recipe_trains_ships_and_serves_a_coarse_ensemble(isolated_cache, tmp_path, capsys,
                                                                       monkeypatch):
    from icegrad.cache import model_digest
    from icegrad.evaluation import selection
    from icegrad.pages import input_selection
    from icegrad.pages.common import load_run

    # The recipe, not the skill, is under test: the coarse setting's networks (ch. 5's pair, ch. 8's two)
    # train one epoch here instead of two, which halves the test's training.
    one_epoch = dataclasses.replace(selection.SETTINGS["coarse"], epochs=1)
    monkeypatch.setitem(selection.SETTINGS, "coarse", one_epoch)
    config = RunConfig(data_source="nsidc", resolution_km=200, members=1, epochs=1)
    folder = tmp_path / "networks"
    manifest = release_networks(config, folder)
    names = ["nsidc_200km", "nsidc_200km_coarse", "nsidc_200km_coarse_gradients10",
             "nsidc_200km_coarse_random10", "nsidc_200km_coarse_shuffled"]
    assert sorted(manifest["ensembles"]) == names  # ch. 8's every-channel reference is ch. 5's coarse network
    for entry in manifest["ensembles"].values():
        assert entry["precision"] in ("float16", "float32")
        skill = entry["skill"]
        assert len(skill["binary_accuracy_float32"]["icenet"]) == 6 and 0 < skill["mean_float32"] <= 100
        assert abs(skill["mean_float16"] - skill["mean_float32"]) <= shipped.MAX_ACCURACY_CHANGE or \
            entry["precision"] == "float32"
    assert 50 < manifest["ensembles"]["nsidc_200km"]["skill"]["mean_float32"]
    runs = {run.name: run for run in release_runs(config)}
    ens = find_shipped(runs["nsidc_200km"].params, folder)
    assert len(ens) == 1 and ens.manifest["train_config"]["epochs"] == 1
    shuffled = find_shipped(runs["nsidc_200km_coarse_shuffled"].params, folder)
    assert shuffled.manifest["training"] == SHUFFLED_TARGETS and shuffled.manifest["shuffle_seed"] == 0
    chosen = manifest["ensembles"]["nsidc_200km_coarse_gradients10"]["chosen"]
    assert chosen["chooser"] == "gradients" and chosen["k"] == 10
    assert chosen["explained"]["weights_hash"] == [model_digest(m) for m in ens.members], \
        "the inputs were chosen by explaining the ensemble as shipped"
    assert len(manifest["ensembles"]["nsidc_200km_coarse_random10"]["channels"]) == 10
    assert "ships in" in capsys.readouterr().out
    with pytest.raises(IcegradError, match="--weights"):
        release_runs(RunConfig(weights="somewhere"))

    # From this release alone (an empty cache), ch. 8's section at its default setting trains nothing.
    monkeypatch.setattr(shipped, "default_folder", lambda: folder)
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(train, "train_ensemble", lambda *args, **kwargs: pytest.fail("ch. 8 trained"))
    section = input_selection.section(load_run(config), None, "coarse", str(tmp_path / "figures"))
    assert "Gradient-chosen inputs" in section.values["selection_text"]
