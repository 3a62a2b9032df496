"""Write a Model as ``.r2nn`` text that parses back to an equal Model.

Resonators are written in the mechanical form (m, k, c) with shortest round-trip float text, so
text → Model → text → Model is the identity on values.
"""

from __future__ import annotations

from .ir import Model, Readout


def _num(value: float) -> str:
    return repr(float(value))


def model_to_text(model: Model) -> str:
    """The ``.r2nn`` text of ``model`` (one statement per line, two-space-free canonical layout)."""
    lines = [f"model {model.name} {{", f"    analogy {model.analogy};"]
    if model.band is not None:
        lo, hi = model.band
        lines.append(f"    band {_num(lo)} Hz .. {_num(hi)} Hz;")
    lines.append("")
    for r in model.resonators:
        lines.append(f"    resonator {r.name} (m = {_num(r.mass)}, k = {_num(r.stiffness)}, c = {_num(r.damping)});")
    if model.couplings:
        lines.append("")
    for c in model.couplings:
        param = "c" if c.kind == "damper" else "k"
        lines.append(f"    couple {c.a} -- {c.b} {c.kind} ({param} = {_num(c.value)});")
    lines.append("")
    for inp in model.inputs:
        drives = ", ".join(f"{node} ({_num(w)})" for node, w in inp.drives)
        lines.append(f"    input {inp.name} -> {drives};")
    if model.outputs:
        lines.append("")
    for out in model.outputs:
        weight = "" if out.weight == 1.0 else f" (weight = {_num(out.weight)})"
        lines.append(f"    output {out.cls} = {out.node}{weight};")
    if model.readout is not None:
        ro = model.readout
        window = f"    readout {ro.kind} from {_num(ro.start)} s to {_num(ro.stop)} s"
        lines += ["", window + (" {" if ro.is_linear else ";")]
        if ro.is_linear:
            lines += _layer_lines(ro)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layer_lines(ro: Readout) -> list[str]:
    """The block of a linear readout (``segments`` only when there are several, ``(segment = k)``
    then on every feature, ``floor`` unless a law without one, ``gain`` when ≠ 1, ``(bias = b)``
    when b ≠ 0: what the parser fills in otherwise)."""
    bounds = ro.boundaries
    several = len(bounds) != 2
    lines = []
    if several or bounds != (ro.start, ro.stop):
        lines.append("        segments " + ", ".join(f"{_num(b)} s" for b in bounds) + ";")
    if ro.law is None or ro.floor != 0:
        lines.append(f"        floor {_num(ro.floor)};")
    if ro.law is not None:
        law = ro.law
        hold = f", hold = {_num(law.hold)} s" if law.hold is not None else ""
        lines.append(f"        law {law.kind} (nvt = {_num(law.nvt)} V, rate = {_num(law.rate)} Hz, "
                     f"clip = {_num(law.clip)} V{hold});")
    for f in ro.features:
        params = [f"segment = {f.segment}"] if several or f.segment != 0 else []
        params += [f"gain = {_num(f.gain)}"] if f.gain != 1.0 else []
        lines.append(f"        feature {f.name} = {f.node}" + (f" ({', '.join(params)})" if params else "") + ";")
    for c in ro.classes:
        bias = f" (bias = {_num(c.bias)})" if c.bias != 0 else ""
        weights = " <- " + ", ".join(f"{name} ({_num(w)})" for name, w in c.weights) if c.weights else ""
        lines.append(f"        class {c.cls}{bias}{weights};")
    lines.append("    }")
    return lines
