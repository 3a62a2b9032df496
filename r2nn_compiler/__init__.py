"""r2nn-compiler: compile resonant recurrent neural networks (R²NN) into verified analog circuits."""

__version__ = "0.1.0"
