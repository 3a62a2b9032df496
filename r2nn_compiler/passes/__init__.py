"""Compiler passes: one per file, registered by name; flows are plain lists of names."""

from . import (  # noqa: F401  (registration)
    break_dc_loops,
    calibrate_outputs,
    check_reference,
    map_force_current,
    map_force_voltage,
    parasitics,
    part_sensitivity,
    quantise,
    readout_analog,
    realise_drive,
    realise_inductors,
    realise_negative,
    robust_parts,
    scale,
)
from .base import (MAPPING, REGISTRY, CompileContext, CompileOptions, LogEntry, Observed, Pass, PassResult, PortMap,
                   check_order, observed_nodes, register, run_flow)

#: The flow of ``r2nn compile --exact``: map, make the DC point well defined, prove in numpy.
#: (``compiler.default_flow`` leaves ``realise_drive`` out unless the drive is built from parts.)
EXACT_FLOW = ["map_force_current", "map_force_voltage", "realise_drive", "break_dc_loops", "readout_analog",
              "check_reference"]

#: The flow of a plain ``r2nn compile``: a circuit of purchasable parts. Each pass's ``match``
#: decides whether it applies and its ``after`` the order (:func:`check_order`; why: docs/passes.md);
#: ``realise_negative`` runs again after ``parasitics`` for dampings the loss compensation made negative.
HARDWARE_FLOW = ["map_force_current", "map_force_voltage", "scale", "realise_negative", "parasitics",
                 "realise_negative", "quantise", "realise_inductors", "realise_drive", "break_dc_loops",
                 "readout_analog", "calibrate_outputs", "check_reference", "robust_parts",
                 "part_sensitivity"]

__all__ = ["EXACT_FLOW", "HARDWARE_FLOW", "MAPPING", "REGISTRY", "CompileContext", "CompileOptions", "LogEntry",
           "Observed", "Pass", "PassResult", "PortMap", "check_order", "observed_nodes", "register", "run_flow"]
