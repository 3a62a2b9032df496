"""Compiler passes: one per file, registered by name; flows are plain lists of names."""

from . import break_dc_loops, check_reference, map_force_current, map_force_voltage, parasitics, quantise, realise_negative, scale  # noqa: F401  (registration)
from .base import REGISTRY, CompileContext, CompileOptions, LogEntry, Pass, PassResult, PortMap, register, run_flow

#: The flow of ``r2nn compile --exact``: map, make the DC point well defined, prove in numpy.
EXACT_FLOW = ["map_force_current", "map_force_voltage", "break_dc_loops", "check_reference"]

__all__ = ["EXACT_FLOW", "REGISTRY", "CompileContext", "CompileOptions", "LogEntry", "Pass", "PassResult",
           "PortMap", "register", "run_flow"]
