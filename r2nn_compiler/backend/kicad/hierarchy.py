"""Which net lives on which sheet, and what KiCad calls it.

A part is drawn on the root sheet or on a hierarchical sheet (``Part.sheet``: one per op-amp
stage, :func:`stage_sheets`, and one per readout class). A net is *internal* to a sheet when every pin it joins is on that sheet (ports and
ground aside: ports are global labels, ground the power symbol ``0``, both seen on every
sheet); any other net is a root net, and each sheet that touches it gets a hierarchical label
and a sheet pin of that name. KiCad names a root net ``/<net>`` and a sheet's internal net
``/<sheet>/<net>``: a behavioural law has to use those names (:func:`localise_laws`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from . import symbols
from ...circuit import Component
from .part import Part
from .readout import VOLTAGE

#: Smallest op-amp stage drawn on a sheet of its own (an op-amp and the parts around it).
STAGE_PARTS = 3


def stage_sheets(components: Sequence[Component]) -> dict[str, str]:
    """Sheet per element of the op-amp stages: the elements whose origin note has the same
    stage (the text before ``:``, e.g. ``GIC for resonator r0 stiffness``, ``damper coupling
    b -- t, end n2``) when they are at least :data:`STAGE_PARTS` and include an op-amp. The
    sheet is named after the stage (``GIC_for_resonator_r0_stiffness``)."""
    stages: dict[str, list[Component]] = {}
    for comp in components:
        if ":" in comp.origin:
            stages.setdefault(comp.origin.split(":", 1)[0].strip(), []).append(comp)
    sheets = {}
    for stage, members in stages.items():
        if len(members) >= STAGE_PARTS and any(c.kind == "X" for c in members):
            name = re.sub(r"[^A-Za-z0-9]+", "_", stage).strip("_")
            sheets.update((c.name, name) for c in members)
    return sheets


def net_sheets(parts: list[Part]) -> dict[str, str]:
    """Each net's sheet: the one sheet all its pins are on when that is a hierarchical sheet,
    else "" (root)."""
    on: dict[str, set[str]] = {}
    for part in parts:
        for net in part.nets.values():
            on.setdefault(net, set()).add(part.sheet)
    return {net: next(iter(sheets)) if len(sheets) == 1 else "" for net, sheets in on.items()}


def crossing_nets(parts: list[Part], ports: set[str]) -> dict[str, list[str]]:
    """Per hierarchical sheet, the nets it shares with the root or another sheet (its sheet
    pins), in first-use order; ports and ground excluded."""
    home = net_sheets(parts)
    crossing: dict[str, list[str]] = {}
    for part in parts:
        for net in part.nets.values():
            if part.sheet and home[net] != part.sheet and net != "0" and net not in ports:
                nets = crossing.setdefault(part.sheet, [])
                if net not in nets:
                    nets.append(net)
    return crossing


def kicad_net(net: str, home: dict[str, str], ports: set[str]) -> str:
    """The name KiCad's exports give deck net ``net`` (ports and ground keep theirs)."""
    if net in ports or net == "0":
        return net
    sheet = home.get(net, "")
    return f"/{sheet}/{net}" if sheet else f"/{net}"


def localise_laws(parts: list[Part], ports: set[str]) -> list[Part]:
    """``parts`` with every behavioural source's ``v(net)`` renamed :func:`kicad_net`'s way."""
    home = net_sheets(parts)

    def local(text: str) -> str:
        return VOLTAGE.sub(lambda m: f"v({kicad_net(m.group(1), home, ports)})", text)

    return [dataclasses.replace(p, fields=tuple((k, local(v) if k == "Sim.Params" else v) for k, v in p.fields))
            if p.symbol is symbols.BEHAVIOURAL else p for p in parts]


def sense_points(parts: list[Part], ports: set[str]) -> list[Part]:
    """A sense point (``#SN<k>``) on every net, other than ground and ports, that one pin
    alone touches: a net a B-source's law reads (``v(tw)``) but no pin of it joins. Without
    it ERC reports the pin's label as connected to nothing."""
    touches: dict[str, list[Part]] = {}
    for part in parts:
        for net in part.nets.values():
            touches.setdefault(net, []).append(part)
    lone = [(net, on[0]) for net, on in touches.items() if len(on) == 1 and net != "0" and net not in ports]
    return [Part(f"#SN{k}", symbols.SENSE, "sense", {"1": net}, part.group, on_board=False, in_bom=False,
                 simulated=False, sheet=part.sheet) for k, (net, part) in enumerate(lone, 1)]
