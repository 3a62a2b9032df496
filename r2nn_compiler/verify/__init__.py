"""Verification of compiled decks against the reference model (ngspice transient and AC)."""

from .manifest import CompiledDeck, read_compiled
from .transient_run import ENGINES
from .metrics import nrmse, peak, response_errors
from .run import AcResult, SignalResult, Tolerances, VerifyReport, verify_deck

__all__ = ["ENGINES", "AcResult", "CompiledDeck", "SignalResult", "Tolerances", "VerifyReport", "nrmse", "peak",
           "read_compiled", "response_errors", "verify_deck"]
