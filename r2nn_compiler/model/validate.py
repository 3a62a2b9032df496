"""Structural validation of a Model: names, signs, references, the readout window.

Stability is a property of the dynamics and is checked by ``reference.statespace.check_stable``;
the API's ``load_model`` runs both. Every problem becomes a :class:`ModelError` pointing at the
element (or field) that is wrong.
"""

from __future__ import annotations

import math
import re

from ..errors import Location, ModelError
from ..numerics.diode_law import MAX_EXPONENT
from .ir import ANALOGIES, COUPLING_KINDS, LINEAR, READOUT_KINDS, Model, Readout


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Longest name accepted: names are mapped to positional net names anyway, but a name longer than
#: this is garbage that would only flood messages and reports.
MAX_NAME = 128
#: Largest network accepted. Compiling grows about linearly with the network (sparse analyses,
#: see bench/bench_compile.py), but simulating the reference (modal: every eigenvalue of the
#: 2N-state matrix), ``r2nn check``'s stability margin and the fallbacks of the fast checks are
#: dense (O(N³) time, O(N²) memory: 4096 resonators is an 8192-state eigenproblem, ~1 GB and
#: minutes).
MAX_RESONATORS = 4096
MAX_COUPLINGS = 200_000


class _Problems:
    """The problems found so far, and the helpers every check shares."""

    def __init__(self, model: Model):
        self.model = model
        self.found: list[ModelError] = []
        self.resonators: dict[str, Location | None] = {}

    def bad(self, message: str, where: Location | None) -> None:
        self.found.append(ModelError(message, where or self.model.loc))

    def ident(self, name: str, what: str, where: Location | None) -> None:
        shown = name if len(name) <= 40 else name[:40] + "..."
        if not IDENTIFIER.fullmatch(name):
            self.bad(f"{what} name {shown!r} is not an identifier [A-Za-z_][A-Za-z0-9_]*", where)
        elif len(name) > MAX_NAME:
            self.bad(f"{what} name {shown!r} is {len(name)} characters long: not an identifier of at most "
                     f"{MAX_NAME}", where)

    def known(self, name: str, where: Location | None, what: str) -> bool:
        if name not in self.resonators:
            self.bad(f"unknown resonator {name!r} in {what}", where)
            return False
        return True


def model_problems(model: Model) -> list[ModelError]:
    """Every structural problem of ``model``, in source order (empty when it is sound)."""
    if len(model.resonators) > MAX_RESONATORS or len(model.couplings) > MAX_COUPLINGS:
        return [ModelError(f"model has {len(model.resonators)} resonators and {len(model.couplings)} couplings: at "
                           f"most {MAX_RESONATORS} and {MAX_COUPLINGS} are supported (simulating them is dense, "
                           "O(N^3)); split the network", model.loc)]
    p = _Problems(model)
    for check in (_header_problems, _resonator_problems, _coupling_problems, _input_problems, _output_problems,
                  _readout_problems):
        check(model, p)
    return p.found


def _header_problems(model: Model, p: _Problems) -> None:
    """Names of the model and its elements, the analogy and the band."""
    p.ident(model.name, "model", model.loc)
    for r in model.resonators:
        p.ident(r.name, "resonator", r.where())
    for i in model.inputs:
        p.ident(i.name, "input", i.where())
    for o in model.outputs:
        p.ident(o.cls, "class", o.where())
    if model.analogy not in ANALOGIES:
        p.bad(f"analogy must be one of {', '.join(ANALOGIES)}, got {model.analogy!r}", model.loc)
    if model.band is not None:
        lo, hi = model.band
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
            p.bad(f"band must satisfy 0 < low < high (Hz), got {lo!r} .. {hi!r}", model.loc)


def _resonator_problems(model: Model, p: _Problems) -> None:
    """Unique resonator names, m > 0, k > 0, finite damping, at least one resonator."""
    for r in model.resonators:
        if r.name in p.resonators:
            p.bad(f"duplicate resonator name {r.name!r}", r.where())
        p.resonators[r.name] = r.where()
        if not (math.isfinite(r.mass) and r.mass > 0):
            p.bad(f"mass of {r.name!r} must be > 0 (kg), got {r.mass!r}", r.where("mass"))
        if not (math.isfinite(r.stiffness) and r.stiffness > 0):
            p.bad(f"stiffness of {r.name!r} must be > 0 (N/m), got {r.stiffness!r}", r.where("stiffness"))
        if not math.isfinite(r.damping):
            p.bad(f"damping of {r.name!r} must be a finite number, got {r.damping!r}", r.where("damping"))
    if not model.resonators:
        p.bad("a model needs at least one resonator", model.loc)


def _coupling_problems(model: Model, p: _Problems) -> None:
    """Known ends, a known kind, no self-coupling, no duplicate, a nonzero finite value."""
    pairs: set[tuple[str, str, str]] = set()
    for c in model.couplings:
        ok = p.known(c.a, c.where("a"), "coupling") & p.known(c.b, c.where("b"), "coupling")
        if c.kind not in COUPLING_KINDS:
            p.bad(f"coupling kind must be damper or spring, got {c.kind!r}", c.where("kind"))
        if ok and c.a == c.b:
            p.bad(f"a coupling of resonator {c.a!r} with itself", c.where())
        key = (*sorted((c.a, c.b)), c.kind)
        if ok and c.a != c.b and key in pairs:
            p.bad(f"duplicate {c.kind} coupling {c.a} -- {c.b}", c.where())
        pairs.add(key)
        if not math.isfinite(c.value) or c.value == 0:
            p.bad(f"{c.kind} coupling {c.a} -- {c.b} must be a nonzero finite number, got {c.value!r}",
                  c.where("value"))


def _input_problems(model: Model, p: _Problems) -> None:
    """At least one input, unique names, each driving known resonators once with finite weights."""
    if not model.inputs:
        p.bad("a model needs at least one input", model.loc)
    input_names: set[str] = set()
    for inp in model.inputs:
        if inp.name in input_names:
            p.bad(f"duplicate input name {inp.name!r}", inp.where())
        input_names.add(inp.name)
        if not inp.drives:
            p.bad(f"input {inp.name!r} drives no resonator (expected '-> name (weight), ...')", inp.where())
        driven: set[str] = set()
        for i, (node, weight) in enumerate(inp.drives):
            if p.known(node, inp.where(f"drive{i}"), f"input {inp.name!r}") and node in driven:
                p.bad(f"input {inp.name!r} drives {node!r} twice", inp.where(f"drive{i}"))
            driven.add(node)
            if not math.isfinite(weight):
                p.bad(f"drive weight of {inp.name!r} on {node!r} must be finite, got {weight!r}",
                      inp.where(f"weight{i}"))


def _output_problems(model: Model, p: _Problems) -> None:
    """Outputs: none with a linear readout, else at least one, unique classes, known nodes, w > 0."""
    linear = model.readout is not None and model.readout.kind == LINEAR
    if linear and model.outputs:
        out = model.outputs[0]
        p.bad(f"output {out.cls!r}: a model with a linear readout has no output statements (its classes are the "
              "layer's)", out.where())
    elif not model.outputs and not linear:
        p.bad("a model needs at least one output (one per class)", model.loc)
    classes: set[str] = set()
    for out in model.outputs if not linear else ():
        if out.cls in classes:
            p.bad(f"duplicate output class {out.cls!r}", out.where())
        classes.add(out.cls)
        p.known(out.node, out.where("node"), f"output {out.cls!r}")
        if not (math.isfinite(out.weight) and out.weight > 0):
            p.bad(f"weight of output {out.cls!r} must be > 0, got {out.weight!r}", out.where("weight"))


def _readout_problems(model: Model, p: _Problems) -> None:
    """The readout: present, a known kind, a window 0 <= start < stop, the layer's fields only
    for a linear readout (checked by :func:`_layer_problems`)."""
    ro = model.readout
    if ro is None:
        p.bad("no readout: expected 'readout rms from T0 to T1;'", model.loc)
        return
    if ro.kind not in READOUT_KINDS:
        p.bad(f"readout kind must be one of {', '.join(READOUT_KINDS)}, got {ro.kind!r}", ro.where("kind"))
    window = math.isfinite(ro.start) and ro.start >= 0
    if not window:
        p.bad(f"readout window must start at t >= 0 s, got {ro.start!r}", ro.where("start"))
    if not (math.isfinite(ro.stop) and ro.stop > ro.start):
        window = False
        p.bad(f"readout window must end after it starts ({ro.start!r} s), got {ro.stop!r}", ro.where("stop"))
    if ro.kind == LINEAR:
        _layer_problems(ro, window, p.resonators, p.bad, p.ident)
    elif ro.kind in READOUT_KINDS:
        for key, given in (("segments", ro.segments), ("floor", ro.floor != 0), ("features", ro.features),
                           ("classes", ro.classes), ("law", ro.law is not None)):
            if given:
                p.bad(layer_field_message(key, ro.kind), ro.where(key))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def layer_field_message(key: str, kind: str) -> str:
    """The error for a linear readout's field given to a readout of another kind."""
    return f"only a linear readout has {key} (this readout is {kind!r})"


def _segment_problems(ro: Readout, window: bool, bad) -> int:
    """The layer's segment boundaries (from the window's start to its stop, increasing) and
    floor (> 0); returns the number of segments."""
    def boundary(i: int) -> Location | None:
        return ro.field_locs.get(f"boundary{i}") or ro.where("segments")

    bounds = ro.boundaries
    n_segments = len(bounds) - 1
    if n_segments < 1:
        bad(f"segments needs at least two boundaries (the window's start and stop), got {len(bounds)}",
            ro.where("segments"))
    elif window:
        if bounds[0] != ro.start:
            bad(f"the first segment boundary must be the window's start ({ro.start!r} s), got {bounds[0]!r}",
                boundary(0))
        for i in range(1, len(bounds)):
            if not (math.isfinite(bounds[i]) and bounds[i] > bounds[i - 1]):
                bad(f"segment boundaries must increase strictly: {bounds[i]!r} s after {bounds[i - 1]!r} s",
                    boundary(i))
        if bounds[-1] != ro.stop:
            bad(f"the last segment boundary must be the window's stop ({ro.stop!r} s), got {bounds[-1]!r}",
                boundary(n_segments))
    finite = isinstance(ro.floor, (int, float)) and math.isfinite(ro.floor)
    if ro.law is None and not (finite and ro.floor > 0):
        bad(f"floor of the linear readout must be a finite number > 0 (node units²), got {ro.floor!r}",
            ro.where("floor"))
    elif ro.law is not None and not (finite and ro.floor >= 0):
        bad(f"floor of the linear readout must be a finite number > 0 (node units²; unused under law "
            f"diode) or absent, got {ro.floor!r}", ro.where("floor"))
    return n_segments


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def _law_problems(ro: Readout, bad) -> None:
    """The diode law's parameters (each finite and > 0; ``hold`` None or > 0) and the features'
    gains (finite and > 0; exactly 1 without a law)."""
    law = ro.law
    if law is not None:
        units = {"nvt": "V", "rate": "1/s", "clip": "V", "hold": "s"}
        for key, unit in units.items():
            value = getattr(law, key)
            if key == "hold" and value is None:
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                bad(f"{key} of law diode must be a finite number > 0 ({unit}), got {_short(repr(value))}",
                    law.where(key) or ro.where())
        if _positive(law.clip) and _positive(law.nvt) and law.clip / law.nvt > MAX_EXPONENT:
            bad(f"clip/nvt of law diode must be at most {MAX_EXPONENT:g} (e^(clip/nvt) must fit a double), got "
                f"{law.clip / law.nvt:.4g}", law.where("clip") or ro.where())
    for f in ro.features:
        gain = f.gain
        if not (isinstance(gain, (int, float)) and not isinstance(gain, bool) and math.isfinite(gain)):
            bad(f"gain of feature {f.name!r} must be a finite number, got {_short(repr(gain))}", f.where("gain"))
        elif law is None and gain != 1.0:
            bad(f"gain of feature {f.name!r} needs 'law diode (...);' in the layer (the log law reads the node "
                f"as it is), got {gain!r}", f.where("gain"))
        elif not gain > 0:
            bad(f"gain of feature {f.name!r} must be > 0 (V per node unit), got {gain!r}", f.where("gain"))


def _layer_problems(ro: Readout, window: bool, resonators: dict, bad, ident) -> None:
    """The linear readout layer: boundaries, floor (:func:`_segment_problems`), features, classes."""
    n_segments = _segment_problems(ro, window, bad)
    _law_problems(ro, bad)

    if not ro.features:
        bad("a linear readout needs at least one feature ('feature NAME = RESONATOR (segment = k);')",
            ro.where("features"))
    features: set[str] = set()
    for f in ro.features:
        ident(f.name, "feature", f.where())
        if f.name in features:
            bad(f"duplicate feature name {f.name!r}", f.where())
        features.add(f.name)
        if f.node not in resonators:
            bad(f"unknown resonator {f.node!r} in feature {f.name!r}", f.where("node"))
        integer = isinstance(f.segment, int) and not isinstance(f.segment, bool)
        if n_segments >= 1 and not (integer and 0 <= f.segment < n_segments):
            span = "0" if n_segments == 1 else f"0..{n_segments - 1}"
            bad(f"segment of feature {f.name!r} must be an integer in {span} (the window has {n_segments} "
                f"segment{'s' if n_segments > 1 else ''}), got {_short(repr(f.segment))}", f.where("segment"))

    if len(ro.classes) < 2:
        bad(f"a linear readout needs at least two classes (the prediction is the argmax of their scores), got "
            f"{len(ro.classes)}", ro.where("classes"))
    classes: set[str] = set()
    for c in ro.classes:
        ident(c.cls, "class", c.where())
        if c.cls in classes:
            bad(f"duplicate class {c.cls!r}", c.where())
        classes.add(c.cls)
        if not math.isfinite(c.bias):
            bad(f"bias of class {c.cls!r} must be finite, got {c.bias!r}", c.where("bias"))
        if not c.weights:
            bad(f"class {c.cls!r} weighs no feature (expected '<- feature (weight), ...')", c.where())
        weighed: set[str] = set()
        for i, (name, weight) in enumerate(c.weights):
            if name not in features:
                bad(f"unknown feature {name!r} in class {c.cls!r}", c.where(f"feature{i}"))
            elif name in weighed:
                bad(f"class {c.cls!r} weighs feature {name!r} twice", c.where(f"feature{i}"))
            weighed.add(name)
            if not math.isfinite(weight):
                bad(f"weight of class {c.cls!r} on feature {name!r} must be finite, got {weight!r}",
                    c.where(f"weight{i}"))


def validate_model(model: Model) -> Model:
    """Return ``model`` unchanged, or raise the first problem as :class:`ModelError`.

    The raised error's ``all`` attribute lists every problem (for ``r2nn check``).
    """
    problems = model_problems(model)
    if problems:
        first = problems[0]
        first.all = problems
        raise first
    return model
