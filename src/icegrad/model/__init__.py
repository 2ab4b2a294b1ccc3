"""IceNet in icegrad: the U-Net, ensembles, training, skill and the original release's weights."""

from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.icenet import build_icenet
from icegrad.model.skill import evaluate_skill, skill_table
from icegrad.model.train import TrainConfig, load_or_train, train_ensemble
from icegrad.model.weights import load_icenet_release

__all__ = ["IceNetEnsemble", "TrainConfig", "build_icenet", "evaluate_skill", "load_icenet_release",
           "load_or_train", "skill_table", "train_ensemble"]
