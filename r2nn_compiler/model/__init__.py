"""The model IR, its two file formats (.r2nn text, r2nn-model/1 JSON) and NumPy import."""

from .ir import ClassScore, Coupling, DiodeLaw, Feature, Input, Model, Output, Readout, Resonator
from .jsonio import model_from_json_dict, model_from_json_text, model_from_npz, model_to_json, model_to_json_dict
from .parser import parse_model_text
from .validate import model_problems, validate_model
from .writer import model_to_text

__all__ = [
    "ClassScore", "Coupling", "DiodeLaw", "Feature", "Input", "Model", "Output", "Readout", "Resonator", "model_from_json_dict",
    "model_from_json_text", "model_from_npz", "model_problems", "model_to_json", "model_to_json_dict",
    "model_to_text", "parse_model_text", "validate_model",
]
