"""Emitters: SPICE netlists (a base netlister and the ngspice dialect), manifest.json, bom.csv."""

from .bom import bom_csv, bom_rows
from .manifest import FORMAT as MANIFEST_FORMAT
from .manifest import build_manifest
from .netlister import Netlister, safe_comment, safe_identifier
from .ngspice import NgspiceNetlister, Testbench, f_max_hz, max_step, testbench_net

__all__ = ["MANIFEST_FORMAT", "Netlister", "NgspiceNetlister", "Testbench", "bom_csv", "bom_rows", "build_manifest",
           "f_max_hz", "max_step", "safe_comment", "safe_identifier", "testbench_net"]
