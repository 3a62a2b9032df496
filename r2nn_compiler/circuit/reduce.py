"""Equivalences the analysis applies before stamping: chains of inductors in series.

A net touched by exactly two inductors and nothing else (no port, not ground) carries no
state of its own: KCL makes both inductor currents one, so the descriptor system would be of
index 2 (an inductor cutset) and :meth:`MnaSystem.state_space` could not reduce it. The two
inductors are one inductor of the summed inductance (henry) between their outer nets: the
same circuit, exactly, for every analysis here (AC, transient, poles). ``quantise`` makes such
chains when it trims an inductor with a second one in series.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable

from .graph import GROUND, Component


def merge_series_inductors(prims: list[Component], keep: Iterable[str] = ()) -> tuple[list[Component], set[str]]:
    """``prims`` with every series chain of inductors replaced by one inductor (named after
    the chain's first member, value the sum), and the set of inner nets that vanished.

    ``keep``: nets never merged away (ports, driven inputs). A chain that closes on itself
    (both outer ends on one net) is left as it is. Components are not modified (new ones are
    made for merged chains), so the caller's graph is untouched.
    """
    keep = set(keep) | {GROUND}
    prims = list(prims)
    removed: set[str] = set()
    while True:
        touching: dict[str, list[int]] = defaultdict(list)
        for i, comp in enumerate(prims):
            for net in comp.nodes:
                touching[net].append(i)
        dead: set[int] = set()
        merged: list[Component] = []
        for net, members in touching.items():
            if net in keep or len(members) != 2 or members[0] == members[1]:
                continue
            i, j = members
            a, b = prims[i], prims[j]
            if a.kind != "L" or b.kind != "L" or i in dead or j in dead:
                continue
            outer_a = a.nodes[1] if a.nodes[0] == net else a.nodes[0]
            outer_b = b.nodes[1] if b.nodes[0] == net else b.nodes[0]
            if outer_a == outer_b:
                continue
            # Keep a's orientation: current entering a's first node flows on through b.
            nodes = (outer_a, outer_b) if a.nodes[1] == net else (outer_b, outer_a)
            merged.append(dataclasses.replace(a, nodes=nodes, value=a.value + b.value))
            dead |= {i, j}
            removed.add(net)
        if not merged:
            return prims, removed
        prims = [c for k, c in enumerate(prims) if k not in dead] + merged
