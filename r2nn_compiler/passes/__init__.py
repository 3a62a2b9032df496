"""Compiler passes: one per file, registered by name; flows are plain lists of names."""

from . import (  # noqa: F401  (registration)
    break_dc_loops,
    calibrate_outputs,
    check_reference,
    map_force_current,
    map_force_voltage,
    parasitics,
    quantise,
    readout_analog,
    realise_inductors,
    realise_negative,
    scale,
)
from .base import (REGISTRY, CompileContext, CompileOptions, LogEntry, Observed, Pass, PassResult, PortMap,
                   observed_nodes, register, run_flow)

#: The flow of ``r2nn compile --exact``: map, make the DC point well defined, prove in numpy.
EXACT_FLOW = ["map_force_current", "map_force_voltage", "break_dc_loops", "readout_analog", "check_reference"]

#: The flow of a plain ``r2nn compile``: a circuit of purchasable parts. Each pass's ``match``
#: decides whether it applies (e.g. ``parasitics`` only with ``--parasitics``). Negative elements
#: are realised before parasitics (loss on the inductors of a negative spring loop would make
#: the ideal graph unstable) and again after, for dampings the loss compensation made negative;
#: the DC point is made well defined last, after quantisation may have added pairs. With
#: ``--inductors gic`` the spring inductors become GICs after quantisation, each trimmed to its
#: quantised capacitor (``realise_inductors`` matches only then). ``readout_analog`` (only with
#: ``--readout``) puts its buffers in before the numpy proof, which then covers their loading;
#: ``calibrate_outputs`` then trims each output's gain to the model's level, parts final.
HARDWARE_FLOW = ["map_force_current", "map_force_voltage", "scale", "realise_negative", "parasitics",
                 "realise_negative", "quantise", "realise_inductors", "break_dc_loops",
                 "readout_analog", "calibrate_outputs", "check_reference"]

__all__ = ["EXACT_FLOW", "HARDWARE_FLOW", "REGISTRY", "CompileContext", "CompileOptions", "LogEntry", "Observed",
           "Pass", "PassResult", "PortMap", "observed_nodes", "register", "run_flow"]
