"""The joint training objective of a network and a linear readout layer, in the frequency
domain, with exact analytic gradients.

The layer (:class:`r2nn_compiler.model.ir.Readout` of kind ``linear``): feature f = (segment k,
resonator i) is φ_f = ln(MS_f + ε), MS_f the mean square of resonator i's velocity over segment
k of the window; class j scores s_j = β_j + Σ_f A_jf φ_f; the prediction is argmax_j s_j.

Objective, per evaluation (θ: the network, see :class:`.freqdomain.Layout`; ρ: the layer)::

    L = mean_clips CE(softmax(β + A z), label) + group · Σ_f (√(‖A_:f‖² + δ²) − δ)
        + l1 · Σ |θ_coupling| + stability barrier,            z_f = (φ_f − μ_f) / σ_f

* MS of *every* resonator over *every* segment (:mod:`.segments`: per-segment input spectra,
  each the window approximation of :mod:`.freqdomain` for the input restricted to the segment,
  state carried across segment boundaries ignored), so the layer can use any detector and the
  group term can pick few.
* z standardises φ with per-feature constants μ, σ (the starting network's training-clip
  statistics, held fixed: they are part of the objective, not of θ), so one learning rate and one
  group weight suit every feature; A here is per standard deviation, and :meth:`Head.to_model`
  converts to the model's units (A_raw = A/σ, β_raw = β − A_raw·μ).
* The group term is the group lasso over the features (each feature's column of A across classes:
  one resonator × segment detector, each costing a detector in hardware), smoothed by δ =
  :data:`GROUP_SMOOTHING` so it is differentiable everywhere and its gradient exact; it steers
  training towards networks where few detectors carry the decision. The exact selection of at
  most ``max_features`` detectors happens on time-domain features (:mod:`.logistic`).
* ``ε`` (the floor) is a constant of the objective.

**Method, and why the frequency domain.** The gradient w.r.t. the network is the adjoint of the
frequency-domain solve (:func:`.freqdomain.pullback_adjoint`: one more solve with Z, which is
symmetric, per node), as for the argmax readout: with the input
cross-spectra of every clip and segment computed once, one step costs one batched N×N solve per
frequency node plus products of (clips·segments) × nodes matrices, independent of clip length.
The alternative — the adjoint of the exact time-domain recursion (backpropagation through the FOH
state update over every sample) — is exact for the true features (state carried across segments
included) but costs a forward and a backward simulation of all 2N states over every sample of
every clip per step (1000 one-second 16 kHz clips, N = 32: ~10⁹ state updates each way per step,
minutes per step against well under a second), and stores or recomputes every state. The price of
the frequency domain is the segment approximation (see :mod:`.segments`); the time-domain stage
measures it and refits the layer on exact features. The gradients are exact for the objective
optimised here (tests check them against finite differences).

Units: MS in (m/s)², ε likewise, φ dimensionless (ln of (m/s)²), θ/ρ dimensionless.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import freqdomain as fd
from .logistic import LinearScores, softmax_cross_entropy
from .segments import SegmentSpectra

#: δ of the smoothed group norm √(‖a‖² + δ²) − δ (A per standard deviation of the feature).
GROUP_SMOOTHING = 1e-3
#: A feature whose training-clip std of φ is below this is standardised by this instead.
MIN_STD = 1e-6


@dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class Head:
    """The fixed part of the readout layer while training: shape, the floor ε ((m/s)²), the
    standardisation μ, σ of φ (one per feature), and the mask of features that may carry weight.

    Features are numbered f = k·N + i (segment k, resonator i). ρ, the trainable part, is
    ``[A.ravel(), β]`` with A (classes × features) per standard deviation of z."""

    n_classes: int
    n_segments: int
    n_resonators: int
    floor: float
    mean: np.ndarray
    std: np.ndarray
    mask: np.ndarray

    @property
    def n_features(self) -> int:
        return self.n_segments * self.n_resonators

    def unpack(self, rho: np.ndarray) -> LinearScores:
        """(A, β) of ρ, with the masked features' columns of A zeroed."""
        weights = rho[: self.n_classes * self.n_features].reshape(self.n_classes, self.n_features)
        return LinearScores(weights * self.mask, rho[self.n_classes * self.n_features :])

    def pack(self, scores: LinearScores) -> np.ndarray:
        return np.concatenate([scores.weights.ravel(), scores.bias])

    def standardise(self, log_ms: np.ndarray) -> np.ndarray:
        """z of φ (clips × features)."""
        return (log_ms - self.mean) / self.std

    def with_mask(self, mask: np.ndarray) -> "Head":
        return dataclasses.replace(self, mask=np.asarray(mask, bool))

    def to_model(self, rho: np.ndarray) -> LinearScores:
        """The layer in the model's units: scores = β_raw + A_raw φ."""
        s = self.unpack(rho)
        weights = s.weights / self.std
        return LinearScores(weights, s.bias - weights @ self.mean)


def make_head(log_ms: np.ndarray, floor: float, n_classes: int, n_segments: int, n_resonators: int) -> Head:
    """A head standardising by the statistics of ``log_ms`` (clips × features), every feature on."""
    std = np.maximum(log_ms.std(axis=0), MIN_STD)
    return Head(n_classes, n_segments, n_resonators, float(floor), log_ms.mean(axis=0), std,
                np.ones(n_segments * n_resonators, bool))


def state_response(phys: fd.Physical, layout: fd.Layout, freqs_hz: np.ndarray) -> tuple[fd.Response, np.ndarray]:
    """Velocity response of *every* resonator (``H = X = Z⁻¹ Bf``, F × N × inputs; ``R`` left
    empty) and Z (F × N × N), for the adjoint solve of :func:`data_loss`."""
    z, jw = fd.impedance(phys, layout, freqs_hz)
    x = np.linalg.solve(z, np.broadcast_to(phys.drive.astype(complex), (jw.size, *phys.drive.shape)))
    return fd.Response(x, x, np.zeros((jw.size, 0, layout.n_resonators), complex), jw), z


def spectral_mean_squares(resp: fd.Response, spectra: SegmentSpectra) -> np.ndarray:
    """Mean square velocity of every resonator over every segment (clips × segments × N), (m/s)², in
    the frequency domain (each segment's spectra; the exact ones are :func:`.segments.segment_mean_squares`)."""
    x = resp.X
    f, n, k = x.shape
    gram = np.moveaxis(x[:, :, :, None] * np.conj(x[:, :, None, :]), 1, 3).reshape(f * k * k, n)
    real, imag = spectra.flat()
    ms = real @ gram.real - imag @ gram.imag
    return ms.reshape(spectra.real.shape[0], spectra.n_segments, n)


def log_features(ms: np.ndarray, floor: float) -> np.ndarray:
    """φ = ln(MS + ε) as (clips × features), f = k·N + i."""
    return np.log(ms.reshape(ms.shape[0], -1) + floor)


class LayerEvaluation(NamedTuple):
    """One evaluation: the loss, its gradient w.r.t. the network (p or θ) and the layer ρ, the
    training clips' scores (clips × classes), and the response (to score other clips)."""

    loss: float
    grad_net: np.ndarray
    grad_layer: np.ndarray
    scores: np.ndarray
    response: fd.Response


def group_penalty(head: Head, rho: np.ndarray, weight: float) -> tuple[float, np.ndarray]:
    """``weight · Σ_f (√(‖A_:f‖² + δ²) − δ)`` over unmasked features, and its gradient w.r.t. ρ."""
    a = head.unpack(rho).weights
    norm = np.sqrt(np.sum(a**2, axis=0) + GROUP_SMOOTHING**2)
    grad = np.zeros_like(rho)
    grad[: a.size] = (weight * a / norm).ravel()
    return weight * float(np.sum((norm - GROUP_SMOOTHING) * head.mask)), grad


def data_loss(p: np.ndarray, rho: np.ndarray, layout: fd.Layout, head: Head, spectra: SegmentSpectra,
              labels: np.ndarray, group: float) -> LayerEvaluation:
    """Cross-entropy plus the group term at physical vector ``p`` and layer ``ρ``, with the
    gradients w.r.t. p and ρ (see the module docstring)."""
    phys = layout.unpack(p)
    resp, z_matrix = state_response(phys, layout, spectra.freqs_hz)
    ms = spectral_mean_squares(resp, spectra)
    z = head.standardise(log_features(ms, head.floor))
    layer = head.unpack(rho)
    scores = layer.scores(z)
    ce, d_scores = softmax_cross_entropy(scores, labels)
    penalty, grad_layer = group_penalty(head, rho, group)
    grad_layer[: layer.weights.size] += ((d_scores.T @ z) * head.mask).ravel()
    grad_layer[layer.weights.size :] += d_scores.sum(axis=0)
    d_ms = ((d_scores @ layer.weights) / head.std).reshape(ms.shape) / (ms + head.floor)
    # W[f, i, k, l] = Σ_(clip, segment) ∂L/∂ms · S[f, k, l];  ∂L/∂X_ik = 2 Σ_l W_ikl conj(X_il)
    real, imag = spectra.flat()
    d_flat = d_ms.reshape(-1, layout.n_resonators)
    f, n, k = resp.X.shape
    w = np.moveaxis((d_flat.T @ real + 1j * (d_flat.T @ imag)).reshape(n, f, k, k), 0, 1)
    d_x = 2 * np.einsum("fikl,fil->fik", w, np.conj(resp.X))
    grad_net = fd.pullback_adjoint(np.linalg.solve(z_matrix, d_x), resp, phys, layout)
    return LayerEvaluation(ce + penalty, grad_net, grad_layer, scores, resp)


def objective(theta: np.ndarray, rho: np.ndarray, layout: fd.Layout, head: Head, spectra: SegmentSpectra,
              labels: np.ndarray, group: float, l1: float, stability: tuple[float, float] | None = None,
              factors: np.ndarray | None = None) -> LayerEvaluation:
    """The whole objective at (θ, ρ) with gradients w.r.t. θ and ρ: :func:`data_loss` plus the
    network's L1 and stability terms (:func:`.freqdomain.regularisers`). ``factors`` multiplies
    every physical value in the data term (hardware-aware training, as :func:`.freqdomain.objective`)."""
    p = layout.values(theta)
    dp = layout.derivative(theta)
    ev = data_loss(p * factors if factors is not None else p, rho, layout, head, spectra, labels, group)
    extra, grad_extra = fd.regularisers(theta, layout, l1, stability)
    grad = ev.grad_net * (dp * factors if factors is not None else dp) + grad_extra
    return ev._replace(loss=ev.loss + extra, grad_net=grad)


def scores_of(resp: fd.Response, rho: np.ndarray, head: Head, spectra: SegmentSpectra) -> np.ndarray:
    """Scores (clips × classes) of other clips' spectra under the same network response."""
    z = head.standardise(log_features(spectral_mean_squares(resp, spectra), head.floor))
    return head.unpack(rho).scores(z)
