"""The micropower part catalogue: typed entries with the figures each model reproduces.

Every entry names a *part class* (e.g. "LPV802-class": a behavioural stand-in built from the
published typical figures of that part, not the vendor's macromodel) and the :class:`Source`
its figures come from. Units are SI throughout: A, V, Hz, V/s, s, ohm, F.

Figures the consulted copy of the source did not show are listed by field name in
``unverified``: they are model choices of plausible magnitude, to be checked against the
datasheet before a design relies on them (docs/parts.md lists them per part).

Supply convention of every active model: one supply, pins ``vdd`` and ``vss`` (= 0 V in the
decks), at most 3.3 V; every figure below is the one the model reproduces at 3.3 V.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """Where figures come from: document, its number and revision, and the table or line."""

    document: str
    number: str
    revision: str
    location: str

    def cite(self) -> str:
        """One line: ``document (number, revision), location``."""
        return f"{self.document} ({self.number}, {self.revision}), {self.location}"


@dataclass(frozen=True)
class OpampPart:
    """A single-supply rail-to-rail-output op-amp channel, pins ``(inp inn out vdd vss)``.

    ``iq_a`` is drawn from vdd per channel; ``swing_v`` is the output headroom to each rail
    with ``swing_load_ohm`` returned to mid-supply; ``offset_v`` is added at the
    non-inverting input (``offset_is_max``: the figure is the datasheet maximum, no typical
    being given); ``bias_a`` flows into each input. ``aol`` (V/V) is the DC open-loop gain.
    """

    name: str
    part_class: str
    iq_a: float
    supply_min_v: float
    supply_max_v: float
    gbw_hz: float
    slew_v_per_s: float
    offset_v: float
    offset_is_max: bool
    bias_a: float
    swing_v: float
    swing_load_ohm: float
    aol: float
    source: Source
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComparatorPart:
    """A push-pull comparator channel, pins ``(inp inn out vdd vss)``, output high for inp > inn.

    ``tpd_s`` is the propagation delay (input step to output at mid-supply) for an input
    ``tpd_overdrive_v`` beyond the trip point; ``hysteresis_v`` is the full band between the
    two trip points, centred on ``offset_v``; ``swing_v`` is the headroom to each rail when
    the output sources or sinks ``swing_load_a``.
    """

    name: str
    part_class: str
    iq_a: float
    supply_min_v: float
    supply_max_v: float
    tpd_s: float
    tpd_overdrive_v: float
    hysteresis_v: float
    offset_v: float
    offset_is_max: bool
    bias_a: float
    swing_v: float
    swing_load_a: float
    source: Source
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiodePart:
    """A diode as a SPICE ``D`` model card, with one datasheet forward-voltage window.

    ``params`` are the card's parameters in SPICE units; the check is: at forward current
    ``check_if_a`` the forward voltage lies in [``check_vf_min_v``, ``check_vf_max_v``].
    """

    name: str
    part_class: str
    params: tuple[tuple[str, float], ...]
    check_if_a: float
    check_vf_min_v: float
    check_vf_max_v: float
    source: Source
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class BjtPart:
    """A bipolar transistor as a SPICE ``NPN``/``PNP`` model card, with one hFE window.

    The check: at collector current ``check_ic_a`` and ``check_vce_v`` the DC current gain
    lies in [``check_hfe_min``, ``check_hfe_max``].
    """

    name: str
    part_class: str
    polarity: str
    params: tuple[tuple[str, float], ...]
    check_ic_a: float
    check_vce_v: float
    check_hfe_min: float
    check_hfe_max: float
    source: Source
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class SwitchPart:
    """An SPST analog switch, pins ``(a b ctl vdd vss)``, closed when ctl is above mid-supply.

    ``ron_ohm`` is the on-resistance (flat over the signal range), ``roff_ohm`` the off
    resistance; ``iq_a`` is drawn from vdd whatever the state.
    """

    name: str
    part_class: str
    iq_a: float
    supply_min_v: float
    supply_max_v: float
    ron_ohm: float
    roff_ohm: float
    source: Source
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReferencePart:
    """A shunt voltage reference with its bias built in, pins ``(out vdd vss)``.

    The model draws ``iq_a`` from vdd (the shunt's operating current, as a bias resistor
    would feed it) and holds ``vref_v`` at out while the load takes less than that current.
    """

    name: str
    part_class: str
    vref_v: float
    iq_a: float
    supply_min_v: float
    source: Source
    unverified: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimerPart:
    """A nanopower system timer: the host that drives a deck's control ports (its gates,
    resets and strobes, the manifest's ``controls``). Draws ``iq_a`` (at ``iq_at_v``) from its
    own supply; intervals from ``interval_min_s`` to ``interval_max_s``. Not a SPICE model:
    the testbench drives the controls with the manifest's waveforms, and the energy estimate
    counts this part's current instead (``energy.timer_part``)."""

    name: str
    part_class: str
    iq_a: float
    iq_at_v: float
    supply_min_v: float
    supply_max_v: float
    interval_min_s: float
    interval_max_s: float
    source: Source
    unverified: tuple[str, ...] = ()


_LPV80X = Source(
    "TI LPV801/LPV802 Nanopower Operational Amplifiers data sheet",
    "document number not shown in the consulted copy", "rev. B (2016)",
    "front page Description and Device Comparison table (320 nA/ch, 8 kHz, Vos max 3.5 mV)",
)
_MAX424X = Source(
    "Maxim MAX4240-MAX4244 Single/Dual/Quad, +1.8V/10uA, SOT23, Beyond-the-Rails Op Amps",
    "19-1343", "Rev 3 (9/06)",
    "General Description and Features (10 uA, 90 kHz, 200 uV, 9 mV swing at 100 kOhm)",
)
_MAX91X = Source(
    "Maxim MAX917-MAX920 SOT23, 1.8V, Nanopower, Beyond-the-Rails Comparators",
    "19-1512", "Rev 2 (10/10)",
    "Features (380 nA), Applications Information (4 mV hysteresis, IN leakage < 2 nA); "
    "22 us response time from the distributor's parametric listing",
)
_TLV703X = Source(
    "TI TLV703x/TLV704x Small-Size, Nanopower, Low-Voltage Comparators data sheet",
    "SLVSE13", "rev. J (Nov 2024)",
    "Features/Description (315 nA, 3 us, 1.6 V to 6.5 V, push-pull >= 3 mA); "
    "5.7 Electrical and 5.8 Switching Characteristics (Single) not read in full",
)
_SMS7630 = Source(
    "Skyworks SMS7630 series surface-mount mixer and detector Schottky diodes data sheet",
    "200041", "revision not checked",
    "SPICE model parameter table and electrical specifications (VF at 0.1 mA)",
)
_1N4148 = Source(
    "ngspice manual, 'Device Models' example card for the 1N4148; Vishay 1N4148 data sheet",
    "ngspice manual (version 39 era); Vishay 81857", "revision not checked",
    "model card as printed in the manual; VF max 1 V at IF = 10 mA (electrical table)",
)
_2N3904 = Source(
    "2N3904 Gummel-Poon parameter set as circulated with the onsemi/Fairchild 2N3904 data",
    "onsemi 2N3904/D", "revision not checked",
    "model card (IS, BF, VAF, IKF ...); hFE 100..300 at IC = 10 mA, VCE = 1 V (ON table)",
)
_TS5A1066 = Source(
    "TI TS5A1066 product page 'Product details' (SPST analog switch)",
    "ti.com/product/TS5A1066", "retrieved copy, undated",
    "Ron typ 7.5 Ohm, supply current typ 0.05 uA, 1.65 V to 5.5 V single supply",
)
_TS12A44515 = Source(
    "TI TS12A44515 product page 'Product details' (quad SPST analog switch)",
    "ti.com/product/TS12A44515", "retrieved copy, undated",
    "4 channels; supply current typ 0.03 uA (per package); Ron max 50 Ohm with a 3.3 V supply; "
    "OFF leakage 1 nA max at 25 degC; 1.8 V to 12 V single supply",
)
_LT1389 = Source(
    "Linear Technology LT1389 Nanopower Precision Shunt Voltage Reference data sheet",
    "LT1389", "revision not checked",
    "Features (800 nA operating current, 0.05 % initial accuracy, 1.25 V option)",
)

OPAMPS: tuple[OpampPart, ...] = (
    OpampPart(
        name="LPV802", part_class="LPV802-class", iq_a=320e-9, supply_min_v=1.6,
        supply_max_v=5.5, gbw_hz=8e3, slew_v_per_s=2.5e3, offset_v=3.5e-3,
        offset_is_max=True, bias_a=100e-15, swing_v=10e-3, swing_load_ohm=100e3,
        aol=1e5, source=_LPV80X,
        unverified=("supply_min_v", "slew_v_per_s", "bias_a", "swing_v", "aol"),
    ),
    OpampPart(
        name="MAX4240", part_class="MAX4240-class", iq_a=10e-6, supply_min_v=1.8,
        supply_max_v=5.5, gbw_hz=90e3, slew_v_per_s=40e3, offset_v=200e-6,
        offset_is_max=False, bias_a=2e-9, swing_v=9e-3, swing_load_ohm=100e3,
        aol=1e5, source=_MAX424X,
        unverified=("slew_v_per_s", "bias_a", "aol"),
    ),
)

COMPARATORS: tuple[ComparatorPart, ...] = (
    ComparatorPart(
        name="MAX919", part_class="MAX919-class", iq_a=380e-9, supply_min_v=1.8,
        supply_max_v=5.5, tpd_s=22e-6, tpd_overdrive_v=100e-3, hysteresis_v=4e-3,
        offset_v=1e-3, offset_is_max=False, bias_a=2e-9, swing_v=0.3,
        swing_load_a=8e-3, source=_MAX91X,
        unverified=("tpd_overdrive_v", "offset_v", "swing_v"),
    ),
    ComparatorPart(
        name="TLV7031", part_class="TLV7031-class", iq_a=315e-9, supply_min_v=1.6,
        supply_max_v=6.5, tpd_s=3e-6, tpd_overdrive_v=100e-3, hysteresis_v=5e-3,
        offset_v=0.5e-3, offset_is_max=False, bias_a=5e-12, swing_v=0.3,
        swing_load_a=3e-3, source=_TLV703X,
        unverified=("tpd_overdrive_v", "hysteresis_v", "offset_v", "bias_a", "swing_v"),
    ),
)

DIODES: tuple[DiodePart, ...] = (
    DiodePart(
        name="SMS7630", part_class="SMS7630-class zero-bias Schottky",
        params=(("IS", 5e-6), ("RS", 20.0), ("N", 1.05), ("CJO", 0.14e-12),
                ("VJ", 0.34), ("M", 0.4), ("BV", 2.0), ("IBV", 1e-4), ("EG", 0.69),
                ("XTI", 2.0)),
        check_if_a=0.1e-3, check_vf_min_v=0.06, check_vf_max_v=0.12, source=_SMS7630,
        unverified=("params", "check_vf_min_v", "check_vf_max_v"),
    ),
    DiodePart(
        name="D1N4148", part_class="1N4148-class small-signal diode",
        params=(("IS", 2.495e-9), ("RS", 0.4755), ("N", 1.679), ("TT", 3.03e-9),
                ("CJO", 1.7e-12), ("VJ", 1.0), ("M", 0.1959), ("BV", 100.0),
                ("IBV", 1e-4)),
        check_if_a=10e-3, check_vf_min_v=0.55, check_vf_max_v=1.0, source=_1N4148,
        unverified=("check_vf_min_v",),
    ),
)

BJTS: tuple[BjtPart, ...] = (
    BjtPart(
        name="Q2N3904", part_class="2N3904-class small-signal NPN", polarity="NPN",
        params=(("IS", 6.734e-15), ("XTI", 3.0), ("EG", 1.11), ("VAF", 74.03),
                ("BF", 416.4), ("NE", 1.259), ("ISE", 6.734e-15), ("IKF", 66.78e-3),
                ("XTB", 1.5), ("BR", 0.7371), ("NC", 2.0), ("ISC", 0.0), ("IKR", 0.0),
                ("RC", 1.0), ("CJC", 3.638e-12), ("MJC", 0.3085), ("VJC", 0.75),
                ("FC", 0.5), ("CJE", 4.493e-12), ("MJE", 0.2593), ("VJE", 0.75),
                ("TR", 239.5e-9), ("TF", 301.2e-12), ("ITF", 0.4), ("VTF", 4.0),
                ("XTF", 2.0), ("RB", 10.0)),
        check_ic_a=10e-3, check_vce_v=1.0, check_hfe_min=100.0, check_hfe_max=300.0,
        source=_2N3904, unverified=("params",),
    ),
)

SWITCHES: tuple[SwitchPart, ...] = (
    SwitchPart(
        name="TS5A1066", part_class="TS5A1066-class", iq_a=50e-9, supply_min_v=1.65,
        supply_max_v=5.5, ron_ohm=7.5, roff_ohm=10e9, source=_TS5A1066,
        unverified=("roff_ohm",),
    ),
    # One channel of the quad: the package's 30 nA split over its four channels; Ron the 3.3 V
    # maximum (no typical at 3.3 V shown); Roff = 3.3 V / the 1 nA maximum OFF leakage.
    SwitchPart(
        name="TS12A44515", part_class="TS12A44515-class (one channel of a quad SPST)",
        iq_a=30e-9 / 4, supply_min_v=1.8, supply_max_v=12.0, ron_ohm=50.0, roff_ohm=3.3e9,
        source=_TS12A44515, unverified=("ron_ohm", "roff_ohm"),
    ),
)

REFERENCES: tuple[ReferencePart, ...] = (
    ReferencePart(
        name="LT1389_1V25", part_class="LT1389-1.25-class", vref_v=1.25, iq_a=800e-9,
        supply_min_v=1.5, source=_LT1389, unverified=("supply_min_v",),
    ),
)

_TPL5010 = Source(
    "TI TPL5010 Nano-Power System Timer With Watchdog Function data sheet",
    "SNAS651A", "January 2015, revised September 2018",
    "1 Features (1.8 V to 5.5 V supply, 35 nA typical at 2.5 V, intervals 100 ms to 7200 s)",
)

#: Timers for the control ports (kept out of :data:`CATALOGUE`: no SPICE model to measure).
TIMERS: tuple[TimerPart, ...] = (
    TimerPart(
        name="TPL5010", part_class="TPL5010-class nanopower timer", iq_a=35e-9, iq_at_v=2.5,
        supply_min_v=1.8, supply_max_v=5.5, interval_min_s=0.1, interval_max_s=7200.0, source=_TPL5010,
        # The figure is the typical at 2.5 V; the estimate uses it at 3.3 V unchanged.
        unverified=("iq_a at 3.3 V",),
    ),
)

Part = OpampPart | ComparatorPart | DiodePart | BjtPart | SwitchPart | ReferencePart

CATALOGUE: tuple[Part, ...] = (*OPAMPS, *COMPARATORS, *DIODES, *BJTS, *SWITCHES,
                               *REFERENCES)


def part(name: str) -> Part:
    """Return the catalogue entry called ``name`` (case-insensitive); KeyError if none."""
    for entry in CATALOGUE:
        if entry.name.lower() == name.lower():
            return entry
    known = ", ".join(e.name for e in CATALOGUE)
    raise KeyError(f"no part named {name!r}; the catalogue has: {known}")
