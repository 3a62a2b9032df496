"""Generic numerics below the reference model and the circuit: continuous-time LTI systems, their
exact simulation for an input linear between samples, shifted sparse solves and window-energy
quadratic forms. Imports nothing else from the package (see ``docs/numerics.md``).

The core names are re-exported here; the window energies live in their own modules
(:mod:`.window`, :mod:`.window_energy`, :mod:`.trace_energy`), imported from there.
"""

from .foh import FohDiscretisation, impulse_responses, modal_ok, simulate_foh
from .shifted import WarmStart, solve_shifted
from .statespace import StateSpace

__all__ = ["FohDiscretisation", "StateSpace", "impulse_responses", "modal_ok", "simulate_foh", "solve_shifted", "WarmStart"]
