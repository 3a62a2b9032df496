"""The training entry point: check the problem, then train the readout the options ask for."""

from __future__ import annotations

from . import linear, trainer
from .data import Dataset
from .trainer import TrainOptions, TrainResult


def train(dataset: Dataset, options: TrainOptions = TrainOptions(), progress: bool = True) -> TrainResult:
    """Train on ``dataset`` (a linear readout layer, or one output per class with
    ``readout="argmax"``); the returned model passes ``validate_model`` and ``check_stable``.

    Raises UsageError for options that cannot work with the dataset (naming the option), before
    any work on them.
    """
    trainer.check_problem(dataset, options)
    if options.readout == "linear":
        return linear.train_linear(dataset, options, progress)
    return trainer.train_argmax(dataset, options, progress)
