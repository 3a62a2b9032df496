"""The training objective in the frequency domain, with analytic adjoint gradients.

The network is linear, so the mean square of output velocity j over the readout window is a
quadratic form of the input spectrum (Parseval)::

    ms_j = (1/n_w) Σ_t v_j[t]²  ≈  Σ_f w_f Σ_kl H_jk(f) conj(H_jl(f)) U_k(f) conj(U_l(f))

with ``H(jω) = E_out (jω M + Cd + K/(jω))⁻¹ Bf`` (velocity per unit input; E_out picks the output
resonators) and ``w_f = 2/(L n_w)`` (1/(L n_w) at Nyquist).

The approximation, and why it is good enough to train on:

* ``U`` is the DFT of the input restricted to the window [t0, t1] (n_w samples), zero-padded to
  L ≥ 2 n_w so the product ``H U`` is a linear (not circular) convolution. ``Σ_f`` is then the
  energy of the response to that windowed input started from rest, *including* its ring-down
  after t1, where the true feature has the real history before t0 and stops at t1. For a window
  long compared with every decay time τ = 1/(−Re pole) the two differ by O(τ / (t1 − t0)):
  for a steady tone at resonance the estimate is high by ≈ τ/(2 (t1 − t0)) when t0 = 0
  (the ring-down counts, the start-up deficit too) and low by ≈ τ/(t1 − t0) when t0 ≫ τ.
  The trainer keeps τ below a fraction of the window and checks the result in the time domain.
* The reference simulator holds the input linear between samples (FOH); its exact spectrum is
  the sampled one times sinc²(f/fs) (the triangle kernel). That factor is included; the aliases
  H(f − m·fs), m ≠ 0, are not (the velocity response falls ∝ 1/f above resonance, so they
  matter only for a model resonating near Nyquist).
* |H|² is evaluated on a coarser grid than the DFT bins: each bin's power is shared between its
  two neighbouring nodes with linear (hat) weights, which is exact for linear |H|² between nodes.
  Nodes are the DFT bins up to the frequency where the bin spacing reaches ``resolution·f``,
  then geometric with ratio 1 + ``resolution``; the relative error at a resonance of quality Q is
  ≲ (Q·resolution)² (1 % for Q = 20 at the default 0.5 %), and the solve count drops ~15× for
  one-second clips.

Parameters are a flat vector θ (see :class:`Layout`); the loss is the softmax cross-entropy of
``temperature · ln r_j`` with r_j = w_j √ms_j, plus ``l1 · Σ |coupling| / scale``, plus a barrier
keeping every pole's decay rate above a floor (:func:`stability_penalty`). Every gradient is
analytic (adjoint of the frequency-domain solve, eigenvalue sensitivities for the barrier).
Units: SI (kg, N/m, N·s/m, Hz, s).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.fft
import scipy.sparse

#: Relative node spacing of the frequency grid (see the module docstring).
DEFAULT_RESOLUTION = 0.005
#: Samples within this fraction of a period of a window edge count as inside (as the reference).
EDGE_TOLERANCE = 1e-6
#: Signals per FFT chunk, so a batch of long clips never holds all its spectra at full resolution.
FFT_CHUNK = 64
KINDS = ("damper", "spring")
#: Weight of the stability barrier (see :func:`stability_penalty`) in the loss.
STABILITY_WEIGHT = 1.0


@dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class WindowSpectra:
    """Input cross-spectra of a batch of signals over a readout window, on the node grid.

    ``real + j·imag = Σ_bins hat_f(bin) w_bin sinc⁴ U_k conj(U_l)`` (Hermitian in k, l; the
    imaginary part vanishes for one input), each (signals × nodes × inputs × inputs), so that
    ``ms_j = Σ_fkl real·Re(H_jk conj H_jl) − imag·Im(H_jk conj H_jl)``. Kept as two real arrays
    because thin complex matrix products are ~15× slower than real ones in OpenBLAS.
    """

    freqs_hz: np.ndarray  # nodes
    real: np.ndarray
    imag: np.ndarray

    def subset(self, index: np.ndarray) -> "WindowSpectra":
        return WindowSpectra(self.freqs_hz, self.real[index], self.imag[index])

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Both parts as (signals × nodes·inputs·inputs) matrices."""
        n = self.real.shape[0]
        return self.real.reshape(n, -1), self.imag.reshape(n, -1)


def window_samples(n_samples: int, sample_rate_hz: float, start_s: float, stop_s: float) -> slice:
    """The samples k with start ≤ k/fs ≤ stop (as :func:`reference.window_mask`), as a slice."""
    k0 = max(0, int(np.ceil(start_s * sample_rate_hz - EDGE_TOLERANCE)))
    k1 = min(n_samples - 1, int(np.floor(stop_s * sample_rate_hz + EDGE_TOLERANCE)))
    if k1 < k0:
        raise ValueError(f"readout window {start_s:g}..{stop_s:g} s holds no sample")
    return slice(k0, k1 + 1)


def node_grid(bin_hz: float, n_bins: int, resolution: float) -> np.ndarray:
    """Node frequencies (Hz) for DFT bins 1…n_bins spaced ``bin_hz``: bins, then geometric."""
    f_max = n_bins * bin_hz
    switch = max(1, min(n_bins, int(np.ceil(1.0 / resolution))))
    fine = np.arange(1, switch + 1) * bin_hz
    if switch == n_bins:
        return fine
    n_geo = max(1, int(np.ceil(np.log(f_max / fine[-1]) / np.log1p(resolution))))
    return np.concatenate([fine, fine[-1] * (f_max / fine[-1]) ** (np.arange(1, n_geo + 1) / n_geo)])


def _hat_matrix(bins_hz: np.ndarray, nodes_hz: np.ndarray) -> scipy.sparse.csr_matrix:
    """Sparse (bins × nodes) linear-interpolation weights; every row sums to 1."""
    right = np.clip(np.searchsorted(nodes_hz, bins_hz), 1, nodes_hz.size - 1)
    left = right - 1
    frac = np.clip((bins_hz - nodes_hz[left]) / (nodes_hz[right] - nodes_hz[left]), 0.0, 1.0)
    rows = np.repeat(np.arange(bins_hz.size), 2)
    cols = np.stack([left, right], axis=1).ravel()
    vals = np.stack([1 - frac, frac], axis=1).ravel()
    return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(bins_hz.size, nodes_hz.size))


def spectrum_length(n_window: int) -> int:
    """The FFT length for a window of ``n_window`` samples: ≥ 2·n_window, so ``H U`` is a linear
    convolution (see the module docstring)."""
    return scipy.fft.next_fast_len(2 * n_window, real=True)


def window_spectra(signals: np.ndarray, sample_rate_hz: float, start_s: float, stop_s: float,
                   resolution: float = DEFAULT_RESOLUTION, length: int | None = None) -> WindowSpectra:
    """Cross-spectra of (signals × inputs × samples) over the window [start_s, stop_s].

    ``length``: the FFT length (default :func:`spectrum_length` of the window); windows of
    different lengths given one common length share one node grid. Raises ValueError when the
    window holds fewer than two samples or ``length`` is shorter than twice the window.
    """
    window = signals[..., window_samples(signals.shape[-1], sample_rate_hz, start_s, stop_s)]
    n_sig, n_in, n_w = window.shape
    if n_w < 2:
        raise ValueError(f"readout window {start_s:g}..{stop_s:g} s holds fewer than two samples")
    if length is None:
        length = spectrum_length(n_w)
    elif length < 2 * n_w:
        raise ValueError(f"FFT length {length} is shorter than twice the window ({n_w} samples)")
    bins = np.arange(1, length // 2 + 1) * sample_rate_hz / length  # DC dropped: H(0) = 0
    weight = np.full(bins.size, 2.0 / (length * n_w))
    if length % 2 == 0:
        weight[-1] /= 2
    weight *= np.sinc(bins / sample_rate_hz) ** 4
    nodes = node_grid(sample_rate_hz / length, bins.size, resolution)
    hat_t = _hat_matrix(bins, nodes).T.tocsr()
    real = np.empty((n_sig, nodes.size, n_in, n_in))
    imag = np.empty_like(real)
    for start in range(0, n_sig, FFT_CHUNK):
        u = scipy.fft.rfft(window[start : start + FFT_CHUNK], length, axis=-1)[..., 1:]  # s × k × bins
        power = (u[:, :, None, :] * np.conj(u[:, None, :, :])) * weight  # s × k × l × bins
        flat = power.reshape(-1, bins.size).T  # bins × (s·k·l)
        chunk = slice(start, start + FFT_CHUNK)
        for part, values in ((real, flat.real), (imag, flat.imag)):
            part[chunk] = np.moveaxis((hat_t @ values).reshape(nodes.size, -1, n_in, n_in), 0, 1)
    return WindowSpectra(nodes, real, imag)


class Physical(NamedTuple):
    """Physical values of a network: SI units, arrays in resonator order."""

    mass: np.ndarray  # N, kg
    stiffness: np.ndarray  # N, N/m
    damping: np.ndarray  # N, N·s/m
    coupling: np.ndarray  # kinds × pairs (damper N·s/m, spring N/m); 0 where inactive
    drive: np.ndarray  # N × inputs, force per unit input
    weight: np.ndarray  # classes, readout weights w_j > 0


@dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class Layout:
    """The trainable structure and how the flat parameter vector θ maps to physical values.

    θ holds, in order: ln m (N), ln k (N), damping c (N), coupling values (kinds × pairs), drive
    weights (N × inputs), ln w (classes). Every entry maps elementwise::

        p = scale · active · (exp θ if log_param else θ)

    so masses, stiffnesses and readout weights are always positive; damping, couplings and drives
    are signed unless ``passive`` (then log-parameterised too, hence positive). ``scale`` makes θ
    dimensionless and O(1) (the trainer uses: damping and drives in units of the initial damping,
    couplings in units of √(c_i c_j)/(N−1)), so one Adam learning rate suits every parameter.
    ``active`` is False for pruned couplings (their value is held at 0).
    """

    n_resonators: int
    n_inputs: int
    outputs: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    kinds: tuple[str, ...]
    scale: np.ndarray
    log_param: np.ndarray
    active: np.ndarray

    @property
    def sizes(self) -> tuple[int, ...]:
        n = self.n_resonators
        return n, n, n, len(self.kinds) * len(self.pairs), n * self.n_inputs, len(self.outputs)

    @property
    def coupling_slice(self) -> slice:
        start = 3 * self.n_resonators
        return slice(start, start + self.sizes[3])

    def unpack(self, p: np.ndarray) -> Physical:
        """Split a flat physical vector into its named arrays (views)."""
        parts = np.split(p, np.cumsum(self.sizes)[:-1])
        return Physical(parts[0], parts[1], parts[2], parts[3].reshape(len(self.kinds), len(self.pairs)),
                        parts[4].reshape(self.n_resonators, self.n_inputs), parts[5])

    def values(self, theta: np.ndarray) -> np.ndarray:
        """Physical vector p of θ."""
        return self.scale * self.active * np.where(self.log_param, np.exp(theta), theta)

    def derivative(self, theta: np.ndarray) -> np.ndarray:
        """dp/dθ, elementwise (the map is diagonal)."""
        return self.scale * self.active * np.where(self.log_param, np.exp(theta), 1.0)

    def theta_of(self, p: np.ndarray) -> np.ndarray:
        """θ of a physical vector (inverse of :meth:`values` on active entries; 0 elsewhere).

        Raises ValueError when a log-parameterised entry is not positive.
        """
        ratio = np.divide(p, self.scale, out=np.zeros_like(p), where=self.active)
        positive = self.log_param & self.active
        if np.any(ratio[positive] <= 0):
            raise ValueError("a positive (log-parameterised) value is not > 0")
        return np.where(positive, np.log(np.where(positive, ratio, 1.0)), ratio)

    def coupling_magnitudes(self, theta: np.ndarray) -> np.ndarray:
        """|coupling| / scale, dimensionless (kinds × pairs); 0 where inactive."""
        p = self.values(theta)[self.coupling_slice] / self.scale[self.coupling_slice]
        return np.abs(p).reshape(len(self.kinds), len(self.pairs))

    def with_active_couplings(self, keep: np.ndarray) -> "Layout":
        """The same layout with only the couplings in ``keep`` (kinds × pairs, bool) trainable."""
        active = self.active.copy()
        active[self.coupling_slice] = keep.ravel()
        return dataclasses.replace(self, active=active)


def matrices(phys: Physical, layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(Cd, K, Bf)``: damping and stiffness matrices with the couplings' Laplacians, drives."""
    out = []
    for kind, own in (("damper", phys.damping), ("spring", phys.stiffness)):
        mat = np.diag(own).astype(float)
        if kind in layout.kinds and layout.pairs:
            i, j = np.array(layout.pairs).T
            value = phys.coupling[layout.kinds.index(kind)]
            np.add.at(mat, (i, i), value)
            np.add.at(mat, (j, j), value)
            np.add.at(mat, (i, j), -value)
            np.add.at(mat, (j, i), -value)
        out.append(mat)
    return out[0], out[1], phys.drive


def _state_matrix(phys: Physical, layout: Layout) -> np.ndarray:
    cd, k, _ = matrices(phys, layout)
    n = layout.n_resonators
    a = np.zeros((2 * n, 2 * n))
    a[:n, n:] = np.eye(n)
    a[n:, :n] = -k / phys.mass[:, None]
    a[n:, n:] = -cd / phys.mass[:, None]
    return a


def decay_rate(p: np.ndarray, layout: Layout) -> float:
    """−max Re(pole) of the network in 1/s: positive when stable, the slowest decay rate."""
    return -float(np.max(np.linalg.eigvals(_state_matrix(layout.unpack(p), layout)).real))


def stability_penalty(p: np.ndarray, layout: Layout, floor: float, start: float) -> tuple[float, np.ndarray]:
    """``(P, ∂P/∂p)``: a barrier keeping every decay rate δ = −Re λ (1/s) above ``floor``.

    ``P = STABILITY_WEIGHT · Σ (s − 1 − ln s)`` over the poles (one of each conjugate pair) with
    ``s = (δ − floor)/(start − floor) < 1``: zero with zero slope at δ = start, infinite at the
    floor, so the descent direction turns away from the hard guard before reaching it instead
    of stalling against it. Eigenvalue sensitivity of the quadratic problem
    (λ²M + λCd + K) x = 0 with symmetric matrices (x is also the left eigenvector):
    dλ = −xᵀ(λ² dM + λ dCd + dK)x / xᵀ(2λM + Cd)x. Raises ValueError if some δ ≤ floor.
    """
    phys = layout.unpack(p)
    lam, vec = np.linalg.eig(_state_matrix(phys, layout))
    frac = (-lam.real - floor) / (start - floor)
    slow = (frac < 1) & (lam.imag >= 0)
    grad = np.zeros_like(p)
    if not slow.any():
        return 0.0, grad
    if np.any(frac[slow] <= 0):
        raise ValueError(f"a pole decays at {-lam.real.max():g} 1/s, not above the floor {floor:g} 1/s")
    n = layout.n_resonators
    lam, x, frac = lam[slow], vec[:n, slow], frac[slow]
    cd, _, _ = matrices(phys, layout)
    norm = np.einsum("im,im->m", x, 2 * lam * phys.mass[:, None] * x + cd @ x)
    coef = STABILITY_WEIGHT * (1 - 1 / frac) / (start - floor)  # ∂P/∂δ for each slow pole
    # ∂δ/∂(entry) = Re(xᵀ ∂Q x / norm) per pole: ∂Q/∂m_i = λ² e_i e_iᵀ, ∂Q/∂c_i = λ e_i e_iᵀ
    x2 = x**2 / norm
    g_mass = np.real(x2 * lam**2) @ coef
    g_damp = np.real(x2 * lam) @ coef
    g_stiff = np.real(x2) @ coef
    g_coupling = np.zeros_like(phys.coupling)
    if layout.pairs:
        i, j = np.array(layout.pairs).T
        diff2 = (x[i] - x[j]) ** 2 / norm
        for kk, kind in enumerate(layout.kinds):
            g_coupling[kk] = np.real(diff2 * (lam if kind == "damper" else 1.0)) @ coef
    sizes = layout.sizes
    grad[: 3 * n] = np.concatenate([g_mass, g_stiff, g_damp])
    grad[3 * n : 3 * n + sizes[3]] = g_coupling.ravel()
    return STABILITY_WEIGHT * float(np.sum(frac - 1 - np.log(frac))), grad


@dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class Response:
    """Velocity responses at the grid nodes: ``H`` (F × classes × inputs), and what the adjoint
    needs: ``X = Z⁻¹ Bf`` (F × N × inputs), ``R = E_out Z⁻¹`` (F × classes × N), jω (F)."""

    H: np.ndarray
    X: np.ndarray
    R: np.ndarray
    jw: np.ndarray


def impedance(phys: Physical, layout: Layout, freqs_hz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, jω)``: Z(jω) = jωM + Cd + K/(jω) at every node (F × N × N, complex symmetric), jω (F)."""
    cd, k, _ = matrices(phys, layout)
    jw = 2j * np.pi * freqs_hz
    n = layout.n_resonators
    z = cd[None] + k[None] / jw[:, None, None]
    z[:, np.arange(n), np.arange(n)] += jw[:, None] * phys.mass
    return z, jw


def response(phys: Physical, layout: Layout, freqs_hz: np.ndarray) -> Response:
    """Solve ``Z(jω) [X | Y] = [Bf | E_outᵀ]`` at every node (one batched N×N solve each).

    Z = jωM + Cd + K/(jω) is complex symmetric, so ``Yᵀ = E_out Z⁻¹`` gives the output rows of
    Z⁻¹ — everything the adjoint needs — from the same solve.
    """
    z, jw = impedance(phys, layout, freqs_hz)
    bf = phys.drive
    n, n_in = layout.n_resonators, layout.n_inputs
    rhs = np.zeros((n, n_in + len(layout.outputs)))
    rhs[:, :n_in] = bf
    rhs[list(layout.outputs), n_in + np.arange(len(layout.outputs))] = 1.0
    sol = np.linalg.solve(z, np.broadcast_to(rhs, (jw.size, *rhs.shape)).astype(complex))
    x = sol[:, :, :n_in]
    r = np.swapaxes(sol[:, :, n_in:], 1, 2)
    return Response(x[:, list(layout.outputs), :], x, r, jw)


def mean_squares(resp: Response, spectra: WindowSpectra) -> np.ndarray:
    """Mean square output velocity over the window (signals × classes), (m/s)²."""
    f, j, k = resp.H.shape
    gram = resp.H[:, :, :, None] * np.conj(resp.H[:, :, None, :])  # F × J × k × l
    flat = np.moveaxis(gram, 1, 3).reshape(f * k * k, j)
    real, imag = spectra.flat()
    return real @ flat.real - imag @ flat.imag


def _pullback(resp: Response, d_h: np.ndarray, phys: Physical, layout: Layout) -> np.ndarray:
    """Physical gradient from ``D = ∂L/∂H`` (dL = Re Σ D·dH), through dH = R (dBf − dZ X):
    :func:`pullback_adjoint` of A = Rᵀ D."""
    return pullback_adjoint(np.einsum("fjn,fjk->fnk", resp.R, d_h), resp, phys, layout)


def pullback_adjoint(a: np.ndarray, resp: Response, phys: Physical, layout: Layout) -> np.ndarray:
    """Physical gradient from the adjoint ``A`` (F × N × inputs) with dL = Re Σ_f tr(Aᵀ (dBf − dZ X)):
    ∂L/∂Bf = Re Σ_f A and ∂L/∂Z = −Re Σ_f A Xᵀ weighted by ∂Z/∂(M, Cd, K) = (jω, 1, 1/(jω)); the
    full N×N sums are formed only for the coupling kinds trained. (For D = ∂L/∂X of every
    resonator, A = Z⁻ᵀ D = Z⁻¹ D: Z is symmetric.) Output weights get 0."""
    n, n_in = layout.n_resonators, layout.n_inputs
    a2 = np.moveaxis(a, 0, 1).reshape(n, -1)
    x2 = np.moveaxis(resp.X, 0, 1).reshape(n, -1)
    jw = np.repeat(resp.jw, n_in)
    weights = {"damper": np.ones_like(jw), "spring": 1 / jw}
    g_mass, g_stiff, g_damp = (-np.real(np.sum(a2 * x2 * w, axis=1))
                               for w in (jw, weights["spring"], weights["damper"]))
    g_coupling = np.zeros_like(phys.coupling)
    if layout.pairs:
        i, j = np.array(layout.pairs).T
        for kk, kind in enumerate(layout.kinds):
            aw = a2 * weights[kind]
            # Re(aw @ x2ᵀ) by two real products: thin complex ones are several times slower
            g = -(aw.real @ x2.real.T - aw.imag @ x2.imag.T)
            g_coupling[kk] = g[i, i] + g[j, j] - g[i, j] - g[j, i]
    g_drive = np.real(a.sum(axis=0))
    return np.concatenate([g_mass, g_stiff, g_damp, g_coupling.ravel(), g_drive.ravel(), np.zeros(len(layout.outputs))])


def log_features(p: np.ndarray, layout: Layout, spectra: WindowSpectra) -> np.ndarray:
    """ln r_j = ln w_j + ½ ln ms_j (signals × classes): the predicted class is the argmax."""
    phys = layout.unpack(p)
    return np.log(phys.weight) + 0.5 * np.log(mean_squares(response(phys, layout, spectra.freqs_hz), spectra))


class Evaluation(NamedTuple):
    """One evaluation of the objective: the loss, its gradient (w.r.t. p or θ), ln r of every
    training clip, and the response and readout weights it used (to score other clips cheaply)."""

    loss: float
    grad: np.ndarray
    log_r: np.ndarray
    response: Response
    weight: np.ndarray


def cross_entropy(p: np.ndarray, layout: Layout, spectra: WindowSpectra, labels: np.ndarray,
                  temperature: float) -> Evaluation:
    """Mean softmax cross-entropy of logits ``temperature · ln r`` and its gradient w.r.t. p.

    A per-class bias would be redundant: it is exactly ln w_j, which is trained.
    """
    phys = layout.unpack(p)
    resp = response(phys, layout, spectra.freqs_hz)
    ms = mean_squares(resp, spectra)
    log_r = np.log(phys.weight) + 0.5 * np.log(ms)
    logits = temperature * log_r
    logits -= logits.max(axis=1, keepdims=True)
    log_prob = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    n = labels.size
    loss = -float(np.mean(log_prob[np.arange(n), labels]))
    d_logits = np.exp(log_prob)
    d_logits[np.arange(n), labels] -= 1.0
    d_logits *= temperature / n  # ∂L/∂ln r
    d_ms = 0.5 * d_logits / ms
    # W[f, j, k, l] = Σ_s ∂L/∂ms_sj · S[s, f, k, l];  ∂L/∂H_jk = 2 Σ_l W_jkl conj(H_jl)
    real, imag = spectra.flat()
    f, j, k = resp.H.shape
    w = np.moveaxis((d_ms.T @ real + 1j * (d_ms.T @ imag)).reshape(j, f, k, k), 0, 1)
    d_h = 2 * np.einsum("fjkl,fjl->fjk", w, np.conj(resp.H))
    grad = _pullback(resp, d_h, phys, layout)
    grad[-len(layout.outputs):] = d_logits.sum(axis=0) / phys.weight
    return Evaluation(loss, grad, log_r, resp, phys.weight)


def objective(theta: np.ndarray, layout: Layout, spectra: WindowSpectra, labels: np.ndarray,
              temperature: float, l1: float, stability: tuple[float, float] | None = None,
              factors: np.ndarray | None = None) -> Evaluation:
    """The training objective at θ and its gradient w.r.t. θ: cross-entropy, plus
    ``l1 · Σ |θ_coupling|``, plus (when ``stability`` = (floor, start) in 1/s is given) the
    stability barrier of :func:`stability_penalty`.

    ``factors`` multiplies every physical value in the cross-entropy (hardware-aware training:
    the loss of a perturbed network, its gradient carried back to the unperturbed θ).
    """
    p = layout.values(theta)
    dp = layout.derivative(theta)
    ev = cross_entropy(p * factors if factors is not None else p, layout, spectra, labels, temperature)
    grad = ev.grad * (dp * factors if factors is not None else dp)
    extra, grad_extra = regularisers(theta, layout, l1, stability)
    return ev._replace(loss=ev.loss + extra, grad=grad + grad_extra)


def regularisers(theta: np.ndarray, layout: Layout, l1: float,
                 stability: tuple[float, float] | None = None) -> tuple[float, np.ndarray]:
    """``(loss, ∂loss/∂θ)`` of the network's own terms: ``l1 · Σ |θ_coupling|`` plus (when
    ``stability`` = (floor, start) in 1/s is given) the barrier of :func:`stability_penalty`."""
    p = layout.values(theta)
    dp = layout.derivative(theta)
    grad = np.zeros_like(theta)
    sl = layout.coupling_slice
    magnitude = layout.coupling_magnitudes(theta).ravel()
    # d|θ|/dθ = sign θ for signed couplings, e^θ = |value|/scale for log-parameterised ones
    grad[sl] += l1 * layout.active[sl] * np.where(layout.log_param[sl], magnitude, np.sign(theta[sl]))
    penalty, grad_penalty = stability_penalty(p, layout, *stability) if stability else (0.0, 0.0)
    grad += grad_penalty * dp
    return l1 * float(magnitude.sum()) + penalty, grad
