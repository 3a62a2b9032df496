"""Library symbols of the schematic: one per part kind, drawn in KiCad's own style.

Coordinates are mm in the symbol's frame (y up, KiCad's library convention); a pin's ``at`` is
its connection point and its ``angle`` the direction from there into the body (0: the pin sits
on the left, 180: right, 90: bottom, 270: top). Every pin is ``passive`` (the circuit is
analog: no pin drives another in ERC's sense) except the power symbols'. Pin numbers are the
footprint's pad numbers (the op-amp's are a single op-amp's SOIC-8 pinout).
"""

from __future__ import annotations

from dataclasses import dataclass

from .sexpr import Atom, Node, node, yes_no

FONT = node("effects", node("font", node("size", 1.27, 1.27)))
HIDDEN = node("effects", node("font", node("size", 1.27, 1.27)), node("hide", Atom("yes")))
#: Library nickname of the symbols the schematic embeds.
LIBRARY = "r2nn"


@dataclass(frozen=True)
class Pin:
    """Pin ``number`` called ``name`` at (x, y) pointing ``angle`` into the body."""

    number: str
    name: str
    x: float
    y: float
    angle: int
    length: float = 2.54
    kind: str = "passive"
    hidden: bool = False

    @property
    def outward(self) -> str:
        """Where the pin leaves the body: ``left``, ``right``, ``up`` or ``down``."""
        return {0: "left", 180: "right", 90: "down", 270: "up"}[self.angle]

    def to_node(self) -> Node:
        return node("pin", Atom(self.kind), Atom("line"), node("at", float(self.x), float(self.y), self.angle),
                    node("length", float(self.length)), node("hide", Atom("yes")) if self.hidden else None,
                    node("name", self.name, FONT), node("number", self.number, FONT))


@dataclass(frozen=True)
class SymbolDef:
    """One library symbol: ``name`` (without the library nickname), the reference prefix, its
    pins and drawing, whether it is a power symbol (ground, power flag) and whether its pin
    names are shown."""

    name: str
    prefix: str
    pins: tuple[Pin, ...]
    graphics: tuple[Node, ...]
    description: str
    power: bool = False
    show_pin_names: bool = False
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def lib_id(self) -> str:
        return f"{LIBRARY}:{self.name}"

    def pin(self, number: str) -> Pin:
        return next(p for p in self.pins if p.number == number)

    def to_node(self, qualified: bool = True) -> Node:
        """The ``(symbol ...)`` of a library (``qualified``: named ``r2nn:<name>``, as a
        schematic's ``lib_symbols`` embeds it)."""
        fields = [("Reference", self.prefix, self.power), ("Value", self.name, False),
                  ("Footprint", "", True), ("Datasheet", "", True), ("Description", self.description, True)]
        fields += [(key, value, True) for key, value in self.properties]
        props = [node("property", key, value, node("at", 0.0, 0.0, 0), HIDDEN if hide else FONT)
                 for key, value, hide in fields]
        return node("symbol", self.lib_id if qualified else self.name,
                    node("power") if self.power else None,
                    node("pin_numbers", node("hide", Atom("yes"))),
                    node("pin_names", node("offset", 0.254), None if self.show_pin_names else node("hide", Atom("yes"))),
                    node("exclude_from_sim", yes_no(False)), node("in_bom", yes_no(not self.power)),
                    node("on_board", yes_no(not self.power)), *props,
                    node("symbol", f"{self.name}_0_1", *self.graphics),
                    node("symbol", f"{self.name}_1_1", *(p.to_node() for p in self.pins)),
                    node("embedded_fonts", Atom("no")))


def stroke(width: float = 0.254) -> Node:
    return node("stroke", node("width", width), node("type", Atom("default")))


def fill(kind: str = "none") -> Node:
    return node("fill", node("type", Atom(kind)))


def polyline(*points: tuple[float, float], width: float = 0.254, filled: str = "none") -> Node:
    return node("polyline", node("pts", *(node("xy", float(x), float(y)) for x, y in points)), stroke(width),
                fill(filled))


def rectangle(x0: float, y0: float, x1: float, y1: float, filled: str = "none") -> Node:
    return node("rectangle", node("start", float(x0), float(y0)), node("end", float(x1), float(y1)), stroke(),
                fill(filled))


def arc(start: tuple[float, float], mid: tuple[float, float], end: tuple[float, float]) -> Node:
    return node("arc", node("start", *map(float, start)), node("mid", *map(float, mid)),
                node("end", *map(float, end)), stroke(), fill())


def _two_pin(name: str, prefix: str, graphics: tuple[Node, ...], description: str, length: float = 1.27) -> SymbolDef:
    pins = (Pin("1", "~", 0, 3.81, 270, length), Pin("2", "~", 0, -3.81, 90, length))
    return SymbolDef(name, prefix, pins, graphics, description)


RESISTOR = _two_pin("R", "R", (rectangle(-1.016, -2.54, 1.016, 2.54),), "Resistor")
CAPACITOR = _two_pin("C", "C", (polyline((-2.032, 0.762), (2.032, 0.762), width=0.508),
                                polyline((-2.032, -0.762), (2.032, -0.762), width=0.508)), "Capacitor", 3.048)
INDUCTOR = _two_pin("L", "L", tuple(arc((0, 2.54 - 1.27 * i), (0.635, 1.905 - 1.27 * i), (0, 1.27 - 1.27 * i))
                                    for i in range(4)), "Inductor")
#: A near-zero resistance that only breaks an ideal loop for the simulator: a net tie on the board.
NET_TIE = _two_pin("NetTie", "NT", (polyline((0, 2.54), (0, -2.54), width=0.508),), "Net tie (wiring)")


def controlled_source(name: str, description: str) -> SymbolDef:
    """A 4-terminal controlled source (VCCS ``G``, VCVS ``E``): outputs 1 (+) and 2 (−) on the
    right, controls 3 (+) and 4 (−) on the left, in SPICE's node order."""
    pins = (Pin("1", "+", 5.08, 2.54, 180), Pin("2", "-", 5.08, -2.54, 180),
            Pin("3", "C+", -5.08, 2.54, 0), Pin("4", "C-", -5.08, -2.54, 0))
    body = (rectangle(-2.54, -3.81, 2.54, 3.81, "background"),)
    return SymbolDef(name, name, pins, body, description, show_pin_names=True)


#: SOIC-8 single op-amp pads (TL071-style): 2 −IN, 3 +IN, 6 OUT, 4 V−, 7 V+.
OPAMP = SymbolDef(
    "OpAmp", "U",
    (Pin("3", "+", -7.62, 2.54, 0), Pin("2", "-", -7.62, -2.54, 0), Pin("6", "~", 7.62, 0, 180),
     Pin("7", "V+", -2.54, 7.62, 270, 3.81), Pin("4", "V-", -2.54, -7.62, 90, 3.81)),
    (polyline((-5.08, 5.08), (5.08, 0), (-5.08, -5.08), (-5.08, 5.08), filled="background"),),
    "Single op-amp (SOIC-8 pinout), linear macromodel", show_pin_names=True)

#: Ground: a power symbol whose net is ``0``, SPICE's ground (KiCad's SPICE export keeps net
#: names as they are; its own Simulation_SPICE library has the same ``0`` symbol).
GROUND = SymbolDef(
    "0", "#PWR", (Pin("1", "0", 0, 0, 270, 0, "power_in", hidden=True),),
    (polyline((0, 0), (0, -1.27), (1.27, -1.27), (0, -2.54), (-1.27, -1.27), (0, -1.27)),),
    "Ground (SPICE node 0)", power=True)

POWER_FLAG = SymbolDef(
    "PWR_FLAG", "#FLG", (Pin("1", "~", 0, 0, 90, 0, "power_out"),),
    (polyline((0, 0), (0, 1.27), (-1.016, 1.905), (0, 2.54), (1.016, 1.905), (0, 1.27)),),
    "Marks the ground net as driven (ERC)", power=True)


def block(name: str, ports: tuple[str, ...], inputs: int, description: str,
          properties: tuple[tuple[str, str], ...] = ()) -> SymbolDef:
    """A box with the subcircuit's ``ports`` as pins 1..N: the first ``inputs`` on the left,
    the rest on the right, 2.54 mm apart."""
    left, right = ports[:inputs], ports[inputs:]
    rows = max(len(left), len(right), 1)
    top = 2.54 * ((rows - 1) // 2 + 1)
    pins = [Pin(str(i + 1), p, -10.16, top - 2.54 * i, 0) for i, p in enumerate(left)]
    pins += [Pin(str(len(left) + i + 1), p, 10.16, top - 2.54 * i, 180) for i, p in enumerate(right)]
    body = (rectangle(-7.62, top + 2.54, 7.62, top - 2.54 * rows, "background"),)
    return SymbolDef(name, "X", tuple(pins), body, description, show_pin_names=True, properties=properties)


#: A diode, anode (pad 2) on top, cathode (pad 1) below: SOD-323 / MiniMELF pads (1 K, 2 A).
DIODE = SymbolDef(
    "D", "D", (Pin("2", "A", 0, 3.81, 270, 2.54), Pin("1", "K", 0, -3.81, 90, 2.54)),
    (polyline((-1.27, 1.27), (1.27, 1.27), (0, -1.27), (-1.27, 1.27), filled="background"),
     polyline((-1.27, -1.27), (1.27, -1.27))),
    "Diode (SOD-323 pads: 1 K, 2 A)")

#: An NPN transistor: base (pad 1) left, emitter (pad 2) below, collector (pad 3) above, as
#: the SOT-23 MMBT3904's pads.
NPN = SymbolDef(
    "NPN", "Q", (Pin("1", "B", -5.08, 0, 0, 3.81), Pin("2", "E", 2.54, -5.08, 90, 2.54),
                 Pin("3", "C", 2.54, 5.08, 270, 2.54)),
    (polyline((-0.635, 1.905), (-0.635, -1.905), width=0.508), polyline((-1.27, 0), (-0.635, 0)),
     polyline((-0.635, 0.635), (2.54, 2.54)), polyline((-0.635, -0.635), (2.54, -2.54)),
     polyline((1.27, -2.286), (2.032, -1.524), (2.286, -2.54), (1.27, -2.286), filled="outline")),
    "NPN transistor (SOT-23 pads: 1 B, 2 E, 3 C)")

#: A voltage-controlled analog switch: switch terminals 1, 2 on the right, control 3 (+),
#: 4 (−) on the left, in SPICE's S node order (pads nominal: a footprint override must keep them).
SWITCH = SymbolDef(
    "AnalogSwitch", "S", (Pin("1", "S", 5.08, 2.54, 180), Pin("2", "D", 5.08, -2.54, 180),
                          Pin("3", "IN", -5.08, 2.54, 0), Pin("4", "GND", -5.08, -2.54, 0)),
    (rectangle(-2.54, -3.81, 2.54, 3.81, "background"), polyline((3.81, 2.54), (1.27, 2.54), (1.27, 1.27)),
     polyline((1.27, -1.27), (2.286, 1.016)), polyline((1.27, -1.27), (1.27, -2.54), (3.81, -2.54))),
    "Analog switch, SPST (DG4xx class)", show_pin_names=True)


def source(name: str, prefix: str, description: str) -> SymbolDef:
    """A two-terminal source drawn as a circle: pin 1 (+) on top, pin 2 (−) below."""
    body = (node("circle", node("center", 0.0, 0.0), node("radius", 2.032), stroke(), fill("background")),
            polyline((0, 1.524), (0, 0.508)), polyline((-0.508, 1.016), (0.508, 1.016)),
            polyline((-0.508, -1.016), (0.508, -1.016)))
    pins = (Pin("1", "+", 0, 3.81, 270, 1.778), Pin("2", "-", 0, -3.81, 90, 1.778))
    return SymbolDef(name, prefix, pins, body, description)


#: The readout's voltage reference (a shunt reference, SOT-23 pads: 1 +, 2 −).
REFERENCE = source("VoltageReference", "V", "Voltage reference (SOT-23 pads: 1 +, 2 −)")
#: Sources the simulator needs and the board does not have (timing from a controller,
#: behavioural stand-ins).
TIMING_SOURCE = source("TimingSource", "V", "Timing source (a controller's output; simulation only)")
BEHAVIOURAL = source("BehaviouralSource", "B", "Behavioural source (simulation only)")

#: A sense point: where a behavioural law reads a net that no other pin touches (ERC wants a
#: label on two pins); neither simulated nor on the board.
SENSE = SymbolDef(
    "Sense", "#SN", (Pin("1", "~", 0, 0, 90, 0),),
    (node("circle", node("center", 0.0, 1.016), node("radius", 1.016), stroke(), fill()),),
    "Sense point of a behavioural law (simulation only)")
