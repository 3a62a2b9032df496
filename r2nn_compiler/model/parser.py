"""Parse ``.r2nn`` model text (grammar in ``grammar/r2nn.lark``) into a :class:`Model`.

Syntax errors and form-specific errors (a parameter the statement does not take, a unit that does
not fit it, an f0 ≤ 0) are raised here with the exact file:line:col; everything that also
applies to JSON models is checked by :mod:`.validate` afterwards.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import lark

from ..errors import Location, ModelError, ModelSyntaxError
from ..units import QUANTITY_PATTERN, parse_quantity
from .ir import Coupling, Input, Model, Output, Readout, Resonator
from .validate import validate_model

_GRAMMAR_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "grammar" / "r2nn.lark",  # installed wheel
    Path(__file__).resolve().parents[2] / "grammar" / "r2nn.lark",  # source checkout
)

#: What each statement accepts: parameter → unit symbol it may carry (None: no unit).
_RESONATOR_MECH = {"m": None, "k": None, "c": None}
_RESONATOR_TUNED = {"f0": "Hz", "q": None, "m": None}
_TANK = {"C": "F", "L": "H", "R": "ohm"}
_COUPLING = {"damper": {"c": None, "R": "ohm"}, "spring": {"k": None, "L": "H"}}
_OUTPUT = {"weight": None}

#: Human names of grammar terminals, for "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "QUANTITY": "a number",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "SEMICOLON": "';'",
    "COMMA": "','",
    "EQUAL": "'='",
    "__ANON_0": "'--'",
    "__ANON_1": "'->'",
    "__ANON_2": "'..'",
}


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    for path in _GRAMMAR_CANDIDATES:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            break
    else:  # pragma: no cover - packaging error
        raise FileNotFoundError("grammar r2nn.lark is missing from the installation")
    text = text.replace("__QUANTITY__", QUANTITY_PATTERN.replace("/", "\\/"))
    return lark.Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse_model_text(text: str, filename: str = "<string>") -> Model:
    """Parse and validate model text. Raises ModelSyntaxError / ModelError (one line each)."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename) from None
    return validate_model(_Builder(filename).build(tree))


def _syntax_error(exc: lark.exceptions.UnexpectedInput, text: str, filename: str) -> ModelSyntaxError:
    line, col = getattr(exc, "line", None), getattr(exc, "column", None)
    if isinstance(exc, lark.exceptions.UnexpectedEOF) or line in (None, -1):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        found = "end of file"
    elif isinstance(exc, lark.exceptions.UnexpectedCharacters):
        found = repr(text[exc.pos_in_stream]) if exc.pos_in_stream < len(text) else "end of file"
    else:
        token = exc.token
        found = "end of file" if token.type == "$END" else repr(str(token))
    terminals = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    expected = sorted(_TERMINAL_NAMES.get(t, t.lower() if t.isupper() else t) for t in terminals)
    what = " or ".join(_keywords(expected)) if expected else "a valid statement"
    return ModelSyntaxError(f"unexpected {found}, expected {what}", Location(filename, line, col))


def _keywords(expected: list[str]) -> list[str]:
    # lark names keyword terminals like MODEL / RESONATOR: show them as they are written.
    return [f"'{e}'" if e.isalpha() and e.islower() and e not in ("name", "number") else e for e in expected]


class _Builder:
    """Walks the parse tree and builds the Model, checking statement-specific rules."""

    def __init__(self, filename: str):
        self.filename = filename

    def at(self, item: lark.Token | lark.Tree) -> Location:
        meta = item if isinstance(item, lark.Token) else item.meta
        return Location(self.filename, meta.line, meta.column)

    def quantity(self, token: lark.Token, what: str, unit: str | None) -> float:
        try:
            q = parse_quantity(str(token))
        except ValueError as exc:
            raise ModelError(str(exc), self.at(token)) from None
        if q.unit is not None and q.unit != unit:
            expected = f"a value in {'Ω or ohm' if unit == 'ohm' else unit}" if unit else "a plain number"
            raise ModelError(f"{what} takes {expected}, not {q.unit}", self.at(token))
        return q.value

    def params(self, tree: lark.Tree | None, allowed_sets: list[dict[str, str | None]], what: str):
        """Read ``(name = value, ...)``: values, their tokens, and the parameter set that matched."""
        values: dict[str, float] = {}
        tokens: dict[str, lark.Token] = {}
        for param in tree.children if tree is not None else ():
            name_tok, value_tok = param.children
            name = str(name_tok)
            allowed = {k: u for s in allowed_sets for k, u in s.items()}
            if name not in allowed:
                raise ModelError(
                    f"{what} has no parameter {name!r}; expected {_describe(allowed_sets)}", self.at(name_tok)
                )
            if name in values:
                raise ModelError(f"parameter {name!r} given twice", self.at(name_tok))
            values[name] = self.quantity(value_tok, f"{what} parameter {name}", allowed[name])
            tokens[name] = value_tok
        for s in allowed_sets:
            if set(values) <= set(s):
                return values, tokens, s
        raise ModelError(f"{what} mixes parameter sets; expected {_describe(allowed_sets)}", self.at(tree))

    def build(self, tree: lark.Tree) -> Model:
        model_tree = tree.children[0]
        name_tok, *statements = model_tree.children
        state = {"analogy": "force_current", "band": None, "readout": None}
        resonators, couplings, inputs, outputs = [], [], [], []
        seen_once: dict[str, Location] = {}
        for st in statements:
            kind = st.data
            if kind in ("analogy", "band", "readout"):
                if kind in seen_once:
                    raise ModelError(f"{kind} given twice (first at line {seen_once[kind].line})", self.at(st))
                seen_once[kind] = self.at(st)
            handler = getattr(self, f"_{kind}")
            result = handler(st)
            if kind in ("resonator", "tank"):
                resonators.append(result)
            elif kind == "couple":
                couplings.append(result)
            elif kind == "input":
                inputs.append(result)
            elif kind == "output":
                outputs.append(result)
            else:
                state[kind] = result
        return Model(
            name=str(name_tok),
            resonators=tuple(resonators),
            couplings=tuple(couplings),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            readout=state["readout"],
            analogy=state["analogy"],
            band=state["band"],
            loc=self.at(name_tok),
            source=self.filename,
        )

    def _analogy(self, st: lark.Tree) -> str:
        (tok,) = st.children
        if str(tok) not in ("force_current", "force_voltage"):
            raise ModelError(f"analogy must be force_current or force_voltage, got {str(tok)!r}", self.at(tok))
        return str(tok)

    def _band(self, st: lark.Tree) -> tuple[float, float]:
        lo_tok, hi_tok = st.children
        lo, hi = self.quantity(lo_tok, "band", "Hz"), self.quantity(hi_tok, "band", "Hz")
        if not lo > 0:
            raise ModelError(f"band must start above 0 Hz, got {lo!r}", self.at(lo_tok))
        if not hi > lo:
            raise ModelError(f"band must end above its start ({lo!r} Hz), got {hi!r}", self.at(hi_tok))
        return (lo, hi)

    def _resonator(self, st: lark.Tree) -> Resonator:
        name_tok, params = st.children
        what = f"resonator {name_tok}"
        values, toks, form = self.params(params, [_RESONATOR_MECH, _RESONATOR_TUNED], what)
        self._require(values, form, params, what, optional={"c"})
        if form is _RESONATOR_MECH:
            mass, stiffness, damping = values["m"], values["k"], values.get("c", 0.0)
            field_tok = {"mass": toks["m"], "stiffness": toks["k"], "damping": toks.get("c")}
        else:
            m, f0, q = values["m"], values["f0"], values["q"]
            if not f0 > 0:
                raise ModelError(f"f0 of {what} must be > 0 Hz, got {f0!r}", self.at(toks["f0"]))
            if q == 0:
                raise ModelError(f"q of {what} must be nonzero", self.at(toks["q"]))
            w0 = 2 * math.pi * f0
            mass, stiffness, damping = m, m * w0 * w0, m * w0 / q
            field_tok = {"mass": toks["m"], "stiffness": toks["f0"], "damping": toks["q"]}
        return self._make_resonator(name_tok, st, mass, stiffness, damping, field_tok)

    def _tank(self, st: lark.Tree) -> Resonator:
        name_tok, params = st.children
        what = f"tank {name_tok}"
        values, toks, form = self.params(params, [_TANK], what)
        self._require(values, form, params, what, optional={"R"})
        for key in ("C", "L"):
            if not values[key] > 0:
                raise ModelError(f"{key} of {what} must be > 0, got {values[key]!r}", self.at(toks[key]))
        if values.get("R", 1.0) == 0:
            raise ModelError(f"R of {what} must be nonzero (omit it for no damping)", self.at(toks["R"]))
        damping = 1.0 / values["R"] if "R" in values else 0.0
        field_tok = {"mass": toks["C"], "stiffness": toks["L"], "damping": toks.get("R")}
        return self._make_resonator(name_tok, st, values["C"], 1.0 / values["L"], damping, field_tok)

    def _make_resonator(self, name_tok, st, mass, stiffness, damping, field_tok) -> Resonator:
        locs = {k: self.at(t) for k, t in field_tok.items() if t is not None}
        return Resonator(str(name_tok), mass, stiffness, damping, loc=self.at(name_tok), field_locs=locs)

    def _require(self, values, form, params, what, optional=frozenset()):
        missing = [k for k in form if k not in values and k not in optional]
        if missing:
            raise ModelError(f"{what} is missing parameter {', '.join(missing)}", self.at(params))

    def _couple(self, st: lark.Tree) -> Coupling:
        a_tok, b_tok, kind_tok, params = st.children
        kind = str(kind_tok)
        if kind not in _COUPLING:
            raise ModelError(f"coupling kind must be damper or spring, got {kind!r}", self.at(kind_tok))
        what = f"{kind} coupling {a_tok} -- {b_tok}"
        (key, value), = self._single(params, _COUPLING[kind], what)
        tok = params.children[0].children[1]
        if key in ("R", "L"):
            if value == 0:
                raise ModelError(f"{key} of {what} must be nonzero", self.at(tok))
            value = 1.0 / value
        locs = {"a": self.at(a_tok), "b": self.at(b_tok), "kind": self.at(kind_tok), "value": self.at(tok)}
        return Coupling(str(a_tok), str(b_tok), kind, value, loc=self.at(a_tok), field_locs=locs)

    def _single(self, params, allowed, what):
        values, _, _ = self.params(params, [{k: u} for k, u in allowed.items()], what)
        if len(values) != 1:
            raise ModelError(f"{what} takes exactly one of {', '.join(allowed)}", self.at(params))
        return list(values.items())

    def _input(self, st: lark.Tree) -> Input:
        name_tok, *drives = st.children
        pairs, locs = [], {}
        for i, drive in enumerate(drives):
            node_tok, weight_tok = drive.children
            weight = self.quantity(weight_tok, f"drive weight of input {name_tok}", None)
            pairs.append((str(node_tok), weight))
            locs[f"drive{i}"] = self.at(node_tok)
            locs[f"weight{i}"] = self.at(weight_tok)
        return Input(str(name_tok), tuple(pairs), loc=self.at(name_tok), field_locs=locs)

    def _output(self, st: lark.Tree) -> Output:
        cls_tok, node_tok, *rest = st.children
        weight, locs = 1.0, {"node": self.at(node_tok)}
        if rest:
            values, toks, _ = self.params(rest[0], [_OUTPUT], f"output {cls_tok}")
            weight = values.get("weight", 1.0)
            locs.update({k: self.at(t) for k, t in toks.items()})
        return Output(str(cls_tok), str(node_tok), weight, loc=self.at(cls_tok), field_locs=locs)

    def _readout(self, st: lark.Tree) -> Readout:
        kind_tok, start_tok, stop_tok = st.children
        start = self.quantity(start_tok, "readout start", "s")
        stop = self.quantity(stop_tok, "readout stop", "s")
        locs = {"kind": self.at(kind_tok), "start": self.at(start_tok), "stop": self.at(stop_tok)}
        return Readout(str(kind_tok), start, stop, loc=self.at(st), field_locs=locs)


def _describe(sets: list[dict[str, str | None]]) -> str:
    return " or ".join("(" + ", ".join(s) + ")" for s in sets)
