"""Training R²NN classifiers (floor 4: uses model/, reference/, signals; only the API/CLI import it).

``load_dataset`` reads labelled clips, ``train`` fits a network in the frequency domain with
analytic adjoint gradients and checks it in the time domain, ``plot_history`` draws the curves.
The readout is a linear layer over log mean squares of resonators over segments of the window,
trained with the network (:mod:`.linear`, :mod:`.layer`, :mod:`.segments`, :mod:`.logistic`), or
the argmax of one output resonator per class (:mod:`.trainer`, :mod:`.freqdomain`).
"""

from .data import Dataset, dataset_from_arrays, load_dataset
from .api import train
from .trainer import History, TrainOptions, TrainResult, plot_history

__all__ = ["Dataset", "History", "TrainOptions", "TrainResult", "dataset_from_arrays", "load_dataset",
           "plot_history", "train"]
