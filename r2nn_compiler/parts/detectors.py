"""Segment detector cells built from the micropower part library, and their ideal laws.

A cell turns one tap voltage (volts about the tap's reference node ``ref``) into one reading
held after its segment. Pins of every cell subcircuit: ``(tap ref gate reset out vdd vss)``;
``gate`` high (above mid-supply) while the segment lasts, ``reset`` high before it (both are
control ports: a timer's lines). Readings are ``V(out) − V(ref)`` in volts.

Kinds (:class:`Kind`):

- ``PASSIVE``: tap → gate switch → diode → C to ``ref``; a reset switch across C. No active
  part runs in the window but the two switches (their Iq). For an ideal exponential diode
  (saturation current Is, emission n, Vt at 27 °C) and x = v/(n Vt) the cap obeys
  du/dt = k (eˣ − u), u = exp(v_C/(n Vt)), k = Is/(C n Vt): :func:`passive_law`.
- ``VIRTUAL_GROUND``: tap → gate switch → diode into the inverting input of an op-amp
  integrator (C in feedback, reset switch across C): the reading is Vos − (Is/C)∫(e^{x'} − 1)dt,
  x' = x − Vos/(n Vt) (the op-amp's offset Vos shifts the diode's bias and the reset level):
  :func:`virtual_ground_law`.

Units SI. The tap must be driven by a low-impedance source: the diode draws Is(eˣ − 1).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from r2nn_compiler.numerics import diode_law
from r2nn_compiler.parts.catalogue import DiodePart, part

#: Thermal voltage at ngspice's TNOM (27 °C), V.
VT_27C = 8.617333262e-5 * 300.15


class Kind(enum.Enum):
    """Detector topology of a cell (see the module docstring)."""

    PASSIVE = "passive"
    VIRTUAL_GROUND = "virtual_ground"


@dataclass(frozen=True)
class Cell:
    """One detector cell: its kind, diode (catalogue name), capacitor (F), and for
    ``VIRTUAL_GROUND`` the op-amp (catalogue name); ``switch``: the gate/reset switch part."""

    kind: Kind
    diode: str
    cap_f: float
    opamp: str = "LPV802"
    switch: str = "TS5A1066"
    temp_c: float = 27.0  # for the laws only: n·Vt ∝ T, Is doubling every 10 °C (a rule of thumb)

    @property
    def name(self) -> str:
        """Subcircuit name, unique per cell parameters."""
        text = f"det_{self.kind.value}_{self.diode}_{self.cap_f:.3g}_{self.switch}"
        return text.replace(".", "p").replace("-", "m")

    def diode_part(self) -> DiodePart:
        entry = part(self.diode)
        assert isinstance(entry, DiodePart), self.diode
        return entry

    def n_vt(self) -> float:
        """n·Vt of the diode at ``temp_c`` (V)."""
        return dict(self.diode_part().params).get("N", 1.0) * VT_27C * (273.15 + self.temp_c) / 300.15

    def i_s(self) -> float:
        """The diode's saturation current at ``temp_c`` (A): the card's at 27 °C, × 2 per 10 °C."""
        return dict(self.diode_part().params)["IS"] * 2 ** ((self.temp_c - 27.0) / 10)

    def k_per_s(self) -> float:
        """k = Is/(C n Vt) (1/s): the passive cell's exponential-averaging rate."""
        return self.i_s() / (self.cap_f * self.n_vt())


def cell_subckt(cell: Cell) -> str:
    """SPICE text of ``cell`` (pins ``tap ref gate reset out vdd vss``); needs the part
    library (``parts.models.library``) in the same deck."""
    head = [f".subckt {cell.name} tap ref gate reset out vdd vss",
            f"* {cell.kind.value} segment detector: {cell.diode}, C = {cell.cap_f:.4g} F",
            f"Xgate tap a gate vdd vss {cell.switch}",
            f"D1 a k {cell.diode}"]
    if cell.kind is Kind.PASSIVE:
        body = [f"C1 k ref {cell.cap_f:.6g}", "Rout k out 1", f"Xrst k ref reset vdd vss {cell.switch}"]
    else:
        body = [f"Xop ref k o vdd vss {cell.opamp}", f"C1 k o {cell.cap_f:.6g}",
                f"Xrst k o reset vdd vss {cell.switch}", "Rout o out 1"]
    return "\n".join([*head, *body, f".ends {cell.name}"]) + "\n"


def passive_law(v: np.ndarray, dt: float, cell: Cell, factor: int = 8) -> np.ndarray:
    """Ideal-diode reading v_C (V) of ``PASSIVE`` cells after integrating ``v`` (…, samples;
    volts, linear between samples ``dt`` apart) from v_C = 0: u(T) − 1 =
    k∫e^{−k(T−t)}(eˣ − 1)dt, evaluated on a ``factor``-times finer grid (trapezoid):
    :func:`r2nn_compiler.numerics.diode_law.passive_law` at the cell's k and n·Vt."""
    return diode_law.passive_law(v, dt, cell.k_per_s(), cell.n_vt(), factor)


def passive_law_gradient(v: np.ndarray, dt: float, cell: Cell) -> tuple[np.ndarray, np.ndarray]:
    """The ``PASSIVE`` law on samples ``v`` (…, samples; V, trapezoid at step ``dt``, no
    upsampling) and its exact gradient ∂v_C/∂v_j (…, samples; V/V) =
    k·w_j·e^{x_j}/u(T), w_j the trapezoid weight times e^{−k(T−t_j)}
    (:func:`r2nn_compiler.numerics.diode_law.passive_law_gradient`). A trainer that takes the
    law as its feature sends this pointwise weight back through the network's response (for
    the frequency-domain trainer: one adjoint FFT per tap and clip)."""
    return diode_law.passive_law_gradient(v, dt, cell.k_per_s(), cell.n_vt())


def virtual_ground_law(v: np.ndarray, dt: float, cell: Cell, offset_v: float = 0.0,
                       factor: int = 8) -> np.ndarray:
    """Ideal reading (V) of ``VIRTUAL_GROUND`` cells: Vos − (Is/C)∫(e^{(v−Vos)/nVt} − 1)dt over
    ``v`` (…, samples; volts, linear between samples ``dt`` apart). The op-amp's offset Vos
    (``offset_v``) both biases the diode and is the output's level after the reset."""
    fine, h = diode_law.upsample(np.asarray(v, dtype=float), dt, factor) if factor > 1 else (np.asarray(v, dtype=float), dt)
    current = np.expm1((fine - offset_v) / cell.n_vt())
    charge = np.trapezoid(current, dx=h, axis=-1) * cell.i_s()
    return offset_v - charge / cell.cap_f


def hold_droop(cell: Cell, reading: np.ndarray, hold_s: float) -> np.ndarray:
    """A ``PASSIVE`` reading after ``hold_s`` seconds held on C with the gate open: it decays
    through two off resistances in parallel, τ = Roff·C/2: the reset switch's to ref, and the
    gate switch's to the tap (whose mean is ref) through the diode, whose reverse saturation
    current exceeds what Roff passes. Other kinds are returned unchanged (the op-amp holds C)."""
    if cell.kind is not Kind.PASSIVE:
        return np.asarray(reading, dtype=float)
    roff = part(cell.switch).roff_ohm
    return np.asarray(reading, dtype=float) * math.exp(-hold_s / (roff / 2 * cell.cap_f))


def natural_reading(cell: Cell, reading: np.ndarray) -> np.ndarray:
    """The reading in the law's log variable: ln(u − 1) for ``PASSIVE`` (= ln(k∫…(eˣ−1))),
    ln(−reading) for ``VIRTUAL_GROUND``; NaN where the argument is not positive."""
    reading = np.asarray(reading, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if cell.kind is Kind.PASSIVE:
            return np.log(np.expm1(reading / cell.n_vt()))
        return np.log(-reading)


def square_law_limit(cell: Cell, mean_square_v2: float, seconds: float) -> float:
    """The reading predicted by the square-law (small-signal, kT ≪ 1) limit for a zero-mean tap
    of mean square ``mean_square_v2`` (V²) over ``seconds``: mean(eˣ − 1) ≈ <x²>/2."""
    half_x2 = mean_square_v2 / (2 * cell.n_vt() ** 2)
    if cell.kind is Kind.PASSIVE:
        return cell.n_vt() * math.log1p(cell.k_per_s() * seconds * half_x2)
    return -cell.i_s() * seconds * half_x2 / cell.cap_f


#: The sine testbench's reset pulse ends at 1 ms; the segment starts at SINE_T0.
SINE_T0 = 2e-3


@dataclass(frozen=True)
class SineMeasurement:
    """One cell on a sine in ngspice: the reading after the segment (V about ref) and the mean
    current at the vdd pin over the segment (A)."""

    reading_v: float
    supply_a: float


def sine_testbench(cell: Cell, peak_v: float, freq_hz: float, seconds: float, read_after_s: float = 0.5e-3) -> str:
    """Deck text: ``cell`` on a 3.3 V supply, its tap a sine of ``peak_v`` about ref = 1.65 V
    (starting at SINE_T0 at phase 0 and running on), reset high 0…1 ms, gate high for
    ``seconds`` from SINE_T0, the run ending ``read_after_s`` + 0.5 ms after the segment."""
    from r2nn_compiler.parts.models import library

    on, off, edge = SINE_T0, SINE_T0 + seconds, 1e-6
    step = min(1 / (200 * freq_hz), seconds / 2000)
    lines = [f"* {cell.name} on a {peak_v:g} V, {freq_hz:g} Hz sine", library(), cell_subckt(cell),
             "Vdd vdd 0 3.3", "Vref ref 0 1.65", f"Vrst rst 0 PWL(0 3.3 1m 3.3 {1e-3 + edge:g} 0)",
             f"Vg g 0 PWL(0 0 {on - edge:.7g} 0 {on:.7g} 3.3 {off:.7g} 3.3 {off + edge:.7g} 0)",
             f"Vt t ref SIN(0 {peak_v:.6g} {freq_hz:.6g} {on:.7g})",
             "X1 t ref g rst out vdd 0 " + cell.name,
             f".tran {step:.4g} {off + read_after_s + 0.5e-3:.7g} 0 {step:.4g}", ".end"]
    return "\n".join(lines) + "\n"


def measure_sine(cell: Cell, peak_v: float, freq_hz: float, seconds: float,
                 read_after_s: float = 0.5e-3) -> SineMeasurement:
    """Run :func:`sine_testbench` in ngspice; the reading is taken ``read_after_s`` after the
    segment. Raises SimulationError when ngspice fails."""
    import tempfile

    from r2nn_compiler.sim import NgspiceBatch

    with tempfile.TemporaryDirectory(prefix="r2nn-detector-") as tmp:
        deck = sine_testbench(cell, peak_v, freq_hz, seconds, read_after_s)
        plot = NgspiceBatch(timeout_s=300).run_text(deck, tmp).plot("tran")
    t = np.real(plot.get("time"))
    reading = float(np.interp(SINE_T0 + seconds + read_after_s, t, np.real(plot.get("v(out)")))) - 1.65
    inside = (t >= SINE_T0) & (t <= SINE_T0 + seconds)
    current = -np.real(plot.get("i(vdd)"))[inside]
    return SineMeasurement(reading, float(np.trapezoid(current, t[inside]) / (t[inside][-1] - t[inside][0])))


def sine_samples(peak_v: float, freq_hz: float, seconds: float, per_period: int = 400) -> tuple[np.ndarray, float]:
    """The sine of :func:`sine_testbench` sampled for the ideal laws: (samples, step)."""
    n = int(round(seconds * freq_hz * per_period))
    dt = seconds / n
    return peak_v * np.sin(2 * np.pi * freq_hz * np.arange(n + 1) * dt), dt
