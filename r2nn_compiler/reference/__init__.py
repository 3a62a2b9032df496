"""The reference model: the ground truth every compiled circuit is checked against."""

from .readout import features, features_of, predict, samples_needed, system_features, window_mask
from .response import default_grid, frequency_response
from .simulate import simulate
from .statespace import check_stable, mechanical_matrices, stability_margin, stability_warning, state_space

__all__ = [
    "check_stable", "default_grid", "features", "features_of", "frequency_response", "mechanical_matrices",
    "predict", "samples_needed", "simulate", "stability_margin", "stability_warning", "state_space",
    "system_features", "window_mask",
]
