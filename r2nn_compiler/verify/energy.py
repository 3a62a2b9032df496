"""Supply energy per decision, measured in ngspice, beside the manifest's estimate.

A deck with supply ports (manifest ``supplies`` [{port, volts}]) is run with each supply port
driven by a DC source ``V_<port>`` of its volts (one set per testbench copy, see
``backend.ngspice.Testbench``), whose current ngspice saves. The energy a copy draws over
[0, ``valid_after_s``] (the start of the network's run to the decision) is

    E = Σ_supplies ∫ −V_s · i(V_s) dt      (J; ngspice's i(V) flows into the source's + node)

integrated by the trapezoidal rule on ngspice's own time points (the last interval cut at
``valid_after_s``). :func:`summarise` sets the mean and largest over the clips beside the
manifest's estimate over the same interval: static power × ``valid_after_s``, plus the control
ports' timer (``energy.timer_watts``), which the deck does not simulate.
"""

from __future__ import annotations

import numpy as np

from ..backend.ngspice import supply_net
from ..errors import VerificationError


def measured_joules(plot, supplies: dict[str, float], until_s: float, copy: int = 0, copies: int = 1) -> float:
    """Energy (J) the supplies ``{port: volts}`` of testbench copy ``copy`` delivered from 0 to
    ``until_s`` (circuit s) in the transient ``plot``. Raises VerificationError when a supply's
    current was not saved or the run ends before ``until_s``."""
    t = np.real(plot.get("time"))
    if t[-1] < until_s * (1 - 1e-9):
        raise VerificationError(f"the transient ends at {t[-1]:.6g} s, before the decision ({until_s:.6g} s)")
    keep = t < until_s
    grid = np.append(t[keep], until_s)
    power = np.zeros(grid.size)
    for port, volts in supplies.items():
        current = np.real(_current(plot, f"v_{supply_net(port, copy, copies)}"))
        power += -float(volts) * np.interp(grid, t, current)
    return float(np.sum(0.5 * (power[1:] + power[:-1]) * np.diff(grid)))


def _current(plot, source: str) -> np.ndarray:
    """The branch current of V source ``source`` (ngspice names it ``i(<source>)`` or ``<source>#branch``)."""
    for name in (f"i({source})", f"{source}#branch"):
        try:
            return plot.get(name)
        except Exception:  # noqa: BLE001 - the plot's own error lists the vectors; try the other name
            continue
    raise VerificationError(f"no current of supply source {source} in the transient: save it (i({source}))")


def summarise(measured: list[float], estimate: dict | None, until_s: float) -> dict:
    """The report's ``energy`` figures: ``measured_mean_j`` and ``measured_max_j`` over the
    clips (J per decision, [0, ``until_s``]), ``interval_s`` (= ``until_s``), the manifest's
    estimate over that interval ``estimate_j`` (static power × interval, plus a micropower
    readout's ``readout_gated_joules``; null without an estimate), ``timer_j`` (the control ports' timer over it, not simulated) and
    ``measured_over_estimate`` (mean ÷ estimate, null when either is missing or 0)."""
    mean = float(np.mean(measured)) if measured else None
    # A micropower readout's power-gated stage adds its energy after the window (readout_gated_joules).
    static = (float(estimate["static_power_watts"]) * until_s + float(estimate.get("readout_gated_joules") or 0.0)
              if estimate else None)
    timer = float(estimate.get("timer_watts") or 0.0) * until_s if estimate else 0.0
    return {"clips": len(measured), "interval_s": until_s, "measured_mean_j": mean,
            "measured_max_j": float(np.max(measured)) if measured else None, "estimate_j": static,
            "timer_j": timer,
            "measured_over_estimate": mean / static if mean is not None and static else None}

