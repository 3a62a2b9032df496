"""Continuous-time linear time-invariant systems in state-space form, and their frequency response.

Pure numpy: knows nothing about models or circuits (see ``docs/numerics.md``). Units: time in
seconds, frequency in hertz (poles in rad/s); the system's own units otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StateSpace:
    """``dx/dt = A x + B u``, ``y = C x + D u`` with real float64 matrices."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray

    @property
    def n_states(self) -> int:
        return self.A.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.C.shape[0]

    def poles(self) -> np.ndarray:
        """Eigenvalues of ``A`` (rad/s), sorted by decreasing real part."""
        eig = np.linalg.eigvals(self.A)
        return eig[np.argsort(-eig.real, kind="stable")]

    def frequency_response(self, freqs_hz: np.ndarray) -> np.ndarray:
        """H(j 2π f) as a complex array (outputs × inputs × freqs)."""
        freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
        n = self.n_states
        out = np.empty((self.n_outputs, self.n_inputs, freqs.size), dtype=complex)
        # Solve in batches of frequencies: stacked solves are fast, memory stays ~32 MB a batch.
        batch = max(1, int(2e6 // max(n * n, 1)))
        eye = np.eye(n)
        for start in range(0, freqs.size, batch):
            f = freqs[start : start + batch]
            pencil = (2j * np.pi * f)[:, None, None] * eye - self.A
            x = np.linalg.solve(pencil, np.broadcast_to(self.B, (f.size, n, self.n_inputs)))
            out[:, :, start : start + batch] = np.einsum("pn,fnk->pkf", self.C, x) + self.D[:, :, None]
        return out
