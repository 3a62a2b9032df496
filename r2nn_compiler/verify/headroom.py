"""Op-amp output headroom: the peak |V(out)| of every op-amp in a transient against its swing.

The linear op-amp models cannot clip, so a simulation stays "correct" even where a real part
would saturate; this check says where it would. The op-amps are the compiled graph's
(``circuit.annotations.opamps``: active realisations, then output buffers), which the backend
writes into ``manifest["opamps"]``: a list of ``{"designator", "element", "realises",
"output_net"}``.
The swing is ``manifest``'s op-amp model ``swing_v`` (±13.5 V for the TL072 default).

Vector names: an output net is a net *of the model subcircuit*, so in a testbench that
instantiates the model as ``X1`` ngspice calls its voltage ``v(x1.<net>)`` (lower case;
checked with ngspice 39: ``X1 … r2nn_model`` holding ``X3 n1 x3_div x3_out opamp_macro``
saves ``v(x1.x3_out)``, and the op-amp's own internal node as ``v(x1.x3.o)``). A deck with a
``.save`` line keeps only the vectors it lists, so a verifier that saves its outputs
explicitly must add :func:`opamp_vectors` to that line; a deck without ``.save`` keeps all.

Not checked: the input offset (mV, times the op-amps' DC noise gain of 2: far inside the swing)
and the slew rate (audio-band signals of a few volts need well under 1 V/µs).
"""

from __future__ import annotations

import numpy as np

from ..errors import SimulationError, VerificationError
from ..sim.rawfile import RawPlot


def opamp_vectors(opamps: list[dict], instance: str = "X1") -> list[str]:
    """The ngspice vector of every op-amp's output in testbench instance ``instance``:
    ``v(x1.x3_out)`` for ``output_net`` ``x3_out``, in ``opamps`` order."""
    return [f"v({instance.lower()}.{op['output_net'].lower()})" for op in opamps]


def headroom(plot: RawPlot, opamps: list[dict], swing_v: float, instance: str = "X1") -> list[dict]:
    """One row per op-amp, in ``opamps`` order: ``designator``, ``element``, ``vector``,
    ``peak_v`` (max |V| over the whole plot, V), ``swing_v``, ``headroom_v`` (swing − peak,
    negative when the part would clip) and ``ok`` (peak ≤ swing).

    Raises VerificationError naming the first output vector the plot lacks (and the ``.save``
    line that keeps them all).
    """
    vectors = opamp_vectors(opamps, instance)
    rows = []
    for op, vector in zip(opamps, vectors):
        try:
            values = np.real(plot.get(vector))
        except SimulationError:
            raise VerificationError(f"no op-amp output vector {vector} in plot '{plot.plotname}': save them with "
                                    f"'.save {' '.join(vectors)}'") from None
        peak = float(np.max(np.abs(values))) if values.size else 0.0
        rows.append({"designator": op["designator"], "element": op["element"], "vector": vector, "peak_v": peak,
                     "swing_v": swing_v, "headroom_v": swing_v - peak, "ok": peak <= swing_v})
    return rows
