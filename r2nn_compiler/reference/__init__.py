"""The reference model: the ground truth every compiled circuit is checked against."""

from .readout import (feature_taps, features, features_of, layer_features, layer_features_from_energies, predict,
                      require_window, samples_needed, scores, system_features, system_layer_features, trace_layer_features,
                      window_mask)
from .response import default_grid, frequency_response
from .simulate import simulate
from .statespace import check_stable, mechanical_matrices, stability_margin, stability_warning, state_space

__all__ = [
    "check_stable", "default_grid", "feature_taps", "features", "features_of", "frequency_response",
    "layer_features", "layer_features_from_energies", "mechanical_matrices", "predict", "require_window", "samples_needed", "scores",
    "simulate", "stability_margin", "stability_warning", "state_space", "system_features", "system_layer_features",
    "trace_layer_features", "window_mask",
]
