"""Hardware-aware training: the boards a step trains on.

Each step draws boards, values ``p · f`` with multiplicative factors ``f`` on the physical
vector ``p`` (:class:`.freqdomain.Layout` order), and trains on the **worst** of them: the
draw whose loss is largest. Its gradient is that draw's, exact (the maximum of finitely many
smooth losses is differentiable wherever one draw is strictly worst, and its gradient there is
that draw's). Training on the worst of a few boards per step pushes every clip's decision margin
beyond the feature spread the parts cause, not just the mean board's.

Two laws:

- **part tolerances** (``TrainOptions.tolerances``, e.g. ``R=1%,C=5%,L=10%``): each value
  uniform within ± the tolerance of the part that realises it under the compiler's analogy —
  a mass is a capacitor, a stiffness an inductor (k ∝ 1/L: the same relative spread, first
  order), a damping, a coupling damper, a drive and an output gain resistors (c ∝ 1/R), a
  coupling spring an inductor — ``tolerance_draws`` boards per step;
- **Gaussian** (``TrainOptions.hardware_aware`` = σ, the earlier law): one board per step,
  ``f = 1 + σ·N(0, 1)`` on every value.

A linear readout layer's weights are not parts (no factor). Precondition: ``layout`` is the
run's layout (its sizes fix the vector length).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np

from . import freqdomain as fd

#: The part kind that realises each physical quantity (see the module docstring).
PART_OF = {"mass": "C", "stiffness": "L", "damping": "R", "damper": "R", "spring": "L", "drive": "R",
           "weight": "R"}

E = TypeVar("E")


@dataclass(frozen=True, eq=False)  # holds an array, which has no boolean ==
class Boards:
    """How a step draws its boards: uniform within ± ``relative`` (per entry of p) ``draws``
    times, or else Gaussian with σ ``gaussian`` once, or else the nominal board only."""

    size: int
    relative: np.ndarray | None = None
    draws: int = 1
    gaussian: float = 0.0

    def factors(self, rng: np.random.Generator) -> list[np.ndarray | None]:
        """The factor vectors of one step's boards (``[None]``: the nominal board)."""
        if self.relative is not None:
            return [1 + self.relative * rng.uniform(-1.0, 1.0, self.size) for _ in range(self.draws)]
        if self.gaussian:
            return [1 + self.gaussian * rng.standard_normal(self.size)]
        return [None]


def boards(layout: fd.Layout, tolerances: dict[str, float] | None, draws: int, gaussian: float) -> Boards:
    """The boards of a run on ``layout``: part ``tolerances`` (kind → fraction, absent kinds 0)
    when given, else the Gaussian law of σ ``gaussian`` (0: none)."""
    size = int(sum(layout.sizes))
    if not tolerances:
        return Boards(size, gaussian=gaussian)
    n = layout.n_resonators

    def spread(quantity: str, count: int) -> np.ndarray:
        return np.full(count, tolerances.get(PART_OF[quantity], 0.0))

    relative = np.concatenate([spread("mass", n), spread("stiffness", n), spread("damping", n),
                               *(spread(kind, len(layout.pairs)) for kind in layout.kinds),
                               spread("drive", n * layout.n_inputs), spread("weight", len(layout.outputs))])
    return Boards(size, relative, draws)


def worst(evaluate: Callable[[np.ndarray | None], E], factors: list[np.ndarray | None]) -> E:
    """``evaluate(f)`` of the factor vector whose result has the largest ``loss`` (the first on ties)."""
    results = [evaluate(f) for f in factors]
    return max(results, key=lambda ev: ev.loss)
