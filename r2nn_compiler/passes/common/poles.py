"""Poles of a circuit graph with op-amp instances, and the bookkeeping of active realisations:
the stability proof and fresh designators shared by ``realise_negative`` and
``realise_inductors``. Poles in rad/s."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...circuit import CircuitGraph, mna_matrices
from ...circuit.opamp import OpampModel, subcircuit

#: Poles smaller than this fraction of the largest one are the neutral modes of lossless
#: inductor loops (exactly 0 up to rounding, ~1e-16 relative), not growth or decay.
NEUTRAL_POLE = 1e-9


def swap_model(graph: CircuitGraph, proof: OpampModel, emitted: OpampModel) -> CircuitGraph:
    """A copy of ``graph`` whose op-amp instances use ``emitted`` instead of ``proof``."""
    swapped = graph.copy()
    del swapped.subcircuits[proof.subckt_name]
    swapped.define_subcircuit(subcircuit(emitted))
    for comp in swapped.components_of("X"):
        if comp.subckt == proof.subckt_name:
            swapped.replace(comp.name, dataclasses.replace(comp, subckt=emitted.subckt_name, attrs=dict(comp.attrs)))
    return swapped


def slowest_pole(graph: CircuitGraph, inputs: list[str]) -> complex:
    """The pole with the largest real part (rad/s) of the whole graph, subcircuits flattened,
    leaving out the neutral poles at 0 (|p| ≤ :data:`NEUTRAL_POLE` × the largest |p|): the
    circulating current of a lossless inductor loop (two grounded inductors and a spring
    coupling), which neither grows nor decays until ``break_dc_loops`` damps it."""
    return slowest(mna_matrices(graph, inputs).poles())


def slowest(poles: np.ndarray) -> complex:
    """The pole of largest real part among ``poles`` (sorted by decreasing real part, as
    ``poles()`` returns them), leaving out the neutral ones (see :func:`slowest_pole`)."""
    moving = poles[np.abs(poles) > NEUTRAL_POLE * np.max(np.abs(poles))]
    return complex(moving[0])


def pole_text(pole: complex) -> str:
    """``pole`` for a message: rad/s, its real part in 1/s and its frequency in Hz."""
    return (f"{pole.real:.4g}{pole.imag:+.4g}j rad/s (real part {pole.real:.4g} 1/s, "
            f"{abs(pole.imag) / (2 * math.pi):.4g} Hz)")


def fresh_designators(graph: CircuitGraph, letter: str, count: int) -> list[str]:
    """``count`` consecutive unused designators for ``letter`` (reserved only once added)."""
    first = int(graph.next_designator(letter)[1:])
    return [f"{letter}{first + k}" for k in range(count)]
