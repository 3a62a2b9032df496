"""Training R²NN classifiers (floor 4: uses model/, reference/, signals; only the API/CLI import it).

``load_dataset`` reads labelled clips, ``train`` fits a network in the frequency domain with
analytic adjoint gradients and checks it in the time domain, ``plot_history`` draws the curves.
"""

from .data import Dataset, dataset_from_arrays, load_dataset
from .trainer import History, TrainOptions, TrainResult, plot_history, train

__all__ = ["Dataset", "History", "TrainOptions", "TrainResult", "dataset_from_arrays", "load_dataset",
           "plot_history", "train"]
