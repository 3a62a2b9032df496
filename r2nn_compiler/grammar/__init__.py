"""The r2nn model grammar (``r2nn.lark``), package data read by :mod:`r2nn_compiler.model.parser`."""
