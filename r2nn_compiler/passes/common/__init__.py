"""Helpers the passes share. No module here is a pass, and none imports a pass module: passes
import from here (and from :mod:`..base`), never from each other (``tests/test_pass_structure.py``)."""
