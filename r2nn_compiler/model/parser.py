"""Parse ``.r2nn`` model text (grammar in ``r2nn_compiler/grammar/r2nn.lark``) into a :class:`Model`.

Syntax errors and form-specific errors (a parameter the statement does not take, a unit that does
not fit it, an f0 ≤ 0) are raised here with the exact file:line:col; everything that also
applies to JSON models is checked by :mod:`.validate` afterwards.

Speed: lark's LALR parser costs ~30 µs a token (a 1024-resonator model with 10k couplings: ~5 s),
so text is first read by :class:`_FastReader`, a recursive-descent reader of the same grammar
that builds the same tree (same shapes, same line:column) ~20× faster. It is strict: on
anything it does not read exactly as the grammar says it gives up, and lark parses the text
instead, so lark alone decides every syntax error and its message.
"""

from __future__ import annotations

import bisect
import gc
import math
import re
from functools import lru_cache
from importlib import resources

import lark

from .. import grammar
from ..errors import Location, ModelError, ModelSyntaxError
from ..units import QUANTITY_PATTERN, parse_quantity
from .ir import DIODE, LINEAR, READOUT_KINDS, ClassScore, Coupling, DiodeLaw, Feature, Input, Model, Output, Readout, Resonator
from .validate import validate_model

#: What each statement accepts: parameter → unit symbol it may carry (None: no unit).
_RESONATOR_MECH = {"m": None, "k": None, "c": None}
_RESONATOR_TUNED = {"f0": "Hz", "q": None, "m": None}
_TANK = {"C": "F", "L": "H", "R": "ohm"}
_COUPLING = {"damper": {"c": None, "R": "ohm"}, "spring": {"k": None, "L": "H"}}
_OUTPUT = {"weight": None}
_FEATURE = {"segment": None, "gain": None}
_DIODE_LAW = {"nvt": "V", "rate": "Hz", "clip": "V", "hold": "s"}
_SCORE = {"bias": None}

#: Human names of grammar terminals, for "expected ..." messages (lark's anonymous ones, such as
#: ``__ANON_0``, are named by their text: see _terminal_name).
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
}


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    text = resources.files(grammar).joinpath("r2nn.lark").read_text(encoding="utf-8")
    text = text.replace("__QUANTITY__", QUANTITY_PATTERN.replace("/", "\\/"))
    return lark.Lark(text, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse_model_text(text: str, filename: str = "<string>") -> Model:
    """Parse and validate model text. Raises ModelSyntaxError / ModelError (one line each)."""
    # Reading allocates a few objects per token and frees none: cyclic garbage collections on
    # the way would only rescan them (a third of the time for a 10k-coupling model).
    collecting = gc.isenabled()
    gc.disable()
    try:
        tree = _FastReader(text).read()
        if tree is None:
            try:
                tree = _parser().parse(text)
            except lark.exceptions.UnexpectedInput as exc:
                raise _syntax_error(exc, text, filename) from None
        return validate_model(_Builder(filename).build(tree))
    finally:
        if collecting:
            gc.enable()


class _Meta:
    __slots__ = ("line", "column")

    def __init__(self, line: int, column: int) -> None:
        self.line, self.column = line, column


class _Node:
    """A parse-tree node as lark builds it: rule name, kept children (NAME and QUANTITY tokens,
    subtrees), and the line:column of the rule's first token (keywords included)."""

    __slots__ = ("data", "children", "meta")

    def __init__(self, data: str, children: list, meta: _Meta) -> None:
        self.data, self.children, self.meta = data, children, meta


class _Token(str):
    """A NAME or QUANTITY token: its text, with ``line`` and ``column`` (1-based)."""

    line: int
    column: int


class _GiveUp(Exception):
    """The fast reader met something it does not read exactly as lark would."""


#: The grammar's ignored WS and COMMENT.
_BLANKS = re.compile(r"(?:[ \t\f\r\n]+|#[^\n]*)*")
#: Blanks, then one token of the grammar. Punctuation is tried before QUANTITY, so "--", "->"
#: and ".." are never read as the start of a number (where lark would read them differently,
#: as in ``100..4``, the reader gives up: see _FastReader).
_LEXEME = re.compile(rf"{_BLANKS.pattern}(?:(?P<punct>--|->|<-|\.\.|[{{}}();,=])"
                     rf"|(?P<QUANTITY>{QUANTITY_PATTERN})|(?P<NAME>[A-Za-z_][A-Za-z0-9_]*))")
_STATEMENTS = ("analogy", "band", "resonator", "tank", "couple", "input", "output", "readout")
#: The statements of a linear readout's layer block: keyword → grammar rule.
_LAYER_STATEMENTS = {"segments": "segments", "floor": "floor", "law": "law", "feature": "feature",
                     "class": "score"}


class _FastReader:
    """Reads text of the grammar in ``r2nn_compiler/grammar/r2nn.lark`` into the tree lark would build, or
    returns None (then lark parses it). It gives up on any token not exactly where the
    grammar allows it, and on keywords glued to a name (lark's contextual lexer reads
    ``to20`` as ``to 20``; this reader does not try to)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.tokens: list[tuple[str, str, int]] = []
        self.i = 0

    def read(self) -> _Node | None:
        try:
            self.lex()
            model = self.model()
            if self.i != len(self.tokens):
                raise _GiveUp
        except _GiveUp:
            return None
        return _Node("start", [model], model.meta)

    def lex(self) -> None:
        end = 0
        append = self.tokens.append
        for m in _LEXEME.finditer(self.text):
            if m.start() != end:
                raise _GiveUp  # a character no token starts with
            end = m.end()
            kind = m.lastgroup
            append((kind, m.group(kind), m.start(kind)))
        if _BLANKS.match(self.text, end).end() != len(self.text):
            raise _GiveUp

    # -- tokens -------------------------------------------------------------------------------

    def meta(self, pos: int) -> _Meta:
        line = bisect.bisect_left(self.newlines, pos)
        return _Meta(line + 1, pos - (self.newlines[line - 1] if line else -1))

    def next(self) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise _GiveUp
        self.i += 1
        return self.tokens[self.i - 1]

    def literal(self, text: str) -> int:
        """Consume punctuation or keyword ``text``; its position."""
        kind, value, pos = self.next()
        if value != text or kind == "QUANTITY":
            raise _GiveUp
        return pos

    def token(self, kind: str) -> _Token:
        """Consume a NAME or QUANTITY."""
        found, value, pos = self.next()
        if found != kind:
            raise _GiveUp
        tok = _Token(value)
        line = bisect.bisect_left(self.newlines, pos)
        tok.line, tok.column = line + 1, pos - (self.newlines[line - 1] if line else -1)
        return tok

    def peek(self, text: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i][1] == text and self.tokens[self.i][0] == "punct"

    # -- rules --------------------------------------------------------------------------------

    def model(self) -> _Node:
        start = self.literal("model")
        children = [self.token("NAME")]
        self.literal("{")
        while not self.peek("}"):
            children.append(self.statement())
        self.literal("}")
        return _Node("model", children, self.meta(start))

    def statement(self) -> _Node:
        kind, word, start = self.next()
        if kind != "NAME" or word not in _STATEMENTS:
            raise _GiveUp
        children = getattr(self, "_" + word)()
        if not (children and isinstance(children[-1], _Node) and children[-1].data == "layer"):
            self.literal(";")  # a readout's layer block ends with '}' instead
        return _Node(word, children, self.meta(start))

    def _analogy(self) -> list:
        return [self.token("NAME")]

    def _band(self) -> list:
        lo = self.token("QUANTITY")
        self.literal("..")
        return [lo, self.token("QUANTITY")]

    def _resonator(self) -> list:
        return [self.token("NAME"), self.params()]

    _tank = _resonator

    def _couple(self) -> list:
        a = self.token("NAME")
        self.literal("--")
        return [a, self.token("NAME"), self.token("NAME"), self.params()]

    def _input(self) -> list:
        return [self.token("NAME"), *self.drives("->")]

    def drives(self, arrow: str) -> list:
        """``[arrow drive ("," drive)*]``."""
        children = []
        if self.peek(arrow):
            self.literal(arrow)
            children.append(self.drive())
            while self.peek(","):
                self.literal(",")
                children.append(self.drive())
        return children

    def drive(self) -> _Node:
        node = self.token("NAME")
        self.literal("(")
        weight = self.token("QUANTITY")
        self.literal(")")
        return _Node("drive", [node, weight], _Meta(node.line, node.column))

    def _output(self) -> list:
        children = [self.token("NAME")]
        self.literal("=")
        children.append(self.token("NAME"))
        if self.peek("("):
            children.append(self.params())
        return children

    def _readout(self) -> list:
        kind = self.token("NAME")
        self.literal("from")
        start = self.token("QUANTITY")
        self.literal("to")
        children = [kind, start, self.token("QUANTITY")]
        if self.peek("{"):
            children.append(self.layer())
        return children

    def layer(self) -> _Node:
        start = self.literal("{")
        children = []
        while not self.peek("}"):
            kind, word, pos = self.next()
            if kind != "NAME" or word not in _LAYER_STATEMENTS:
                raise _GiveUp
            rule = _LAYER_STATEMENTS[word]
            kids = getattr(self, "_" + rule)()
            self.literal(";")
            children.append(_Node(rule, kids, self.meta(pos)))
        self.literal("}")
        return _Node("layer", children, self.meta(start))

    def _segments(self) -> list:
        children = [self.token("QUANTITY")]
        while self.peek(","):
            self.literal(",")
            children.append(self.token("QUANTITY"))
        return children

    def _floor(self) -> list:
        return [self.token("QUANTITY")]

    def _law(self) -> list:
        return [self.token("NAME"), self.params()]

    _feature = _output

    def _score(self) -> list:
        children = [self.token("NAME")]
        if self.peek("("):
            children.append(self.params())
        return children + self.drives("<-")

    def params(self) -> _Node:
        start = self.literal("(")
        children = [self.param()]
        while self.peek(","):
            self.literal(",")
            children.append(self.param())
        self.literal(")")
        return _Node("params", children, self.meta(start))

    def param(self) -> _Node:
        name = self.token("NAME")
        self.literal("=")
        return _Node("param", [name, self.token("QUANTITY")], _Meta(name.line, name.column))


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
    expected = sorted(_terminal_name(t) for t in terminals)
    what = " or ".join(_keywords(expected)) if expected else "a valid statement"
    return ModelSyntaxError(f"unexpected {found}, expected {what}", Location(filename, line, col))


def _terminal_name(terminal: str) -> str:
    if terminal in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[terminal]
    if terminal.startswith("__ANON"):  # punctuation lark numbers in grammar order ('..', '--', ...)
        try:
            pattern = _parser().get_terminal(terminal).pattern
        except KeyError:  # pragma: no cover - every terminal lark reports is defined
            return terminal
        if pattern.type == "str":
            return f"'{pattern.value}'"
    return terminal.lower() if terminal.isupper() else terminal


def _keywords(expected: list[str]) -> list[str]:
    # lark names keyword terminals like MODEL / RESONATOR: show them as they are written.
    return [f"'{e}'" if e.isalpha() and e.islower() and e not in ("name", "number") else e for e in expected]


#: A number with no prefix or unit, ASCII digits, at most a 3-digit exponent; group 1: its digits
#: and point. Up to _EXACT_DIGITS digits parse_quantity's Decimal arithmetic is exact, so its
#: value is float(text).
_PLAIN_NUMBER = re.compile(r"[+-]?((?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:[eE][+-]?[0-9]{1,3})?")
_EXACT_DIGITS = 25


class _Builder:
    """Walks the parse tree and builds the Model, checking statement-specific rules."""

    def __init__(self, filename: str):
        self.filename = filename

    def at(self, item) -> Location:
        """Where a token (lark's or the fast reader's: line and column of its own) or a tree
        (``meta``) starts."""
        meta = getattr(item, "meta", item)
        return Location(self.filename, meta.line, meta.column)

    def quantity(self, token: lark.Token, what: str, unit: str | None) -> float:
        text = str(token)
        plain = _PLAIN_NUMBER.fullmatch(text)
        if plain and len(plain.group(1)) <= _EXACT_DIGITS:
            # What parse_quantity returns for a number without prefix or unit, without the cost of
            # its Decimal arithmetic: both round the decimal value once, correctly.
            value = float(text)
            if math.isfinite(value):
                return value
        try:
            q = parse_quantity(text)
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
        kind_tok, start_tok, stop_tok, *block = st.children
        kind = str(kind_tok)
        start = self.quantity(start_tok, "readout start", "s")
        stop = self.quantity(stop_tok, "readout stop", "s")
        locs = {"kind": self.at(kind_tok), "start": self.at(start_tok), "stop": self.at(stop_tok)}
        if kind == LINEAR:
            if not block:
                raise ModelError("readout linear needs its layer after the window: "
                                 "'{ floor ...; feature ...; class ...; }'", self.at(kind_tok))
            return self._layer(st, block[0], kind, start, stop, locs)
        if block and kind in READOUT_KINDS:
            raise ModelError(f"readout {kind} takes no '{{ ... }}' block: segments, floor, features and classes "
                             "belong to readout linear", self.at(block[0]))
        if block:  # a layer block with a misspelt kind: say so rather than miss the outputs
            raise ModelError(f"readout kind must be one of {', '.join(READOUT_KINDS)}, got {kind!r}",
                             self.at(kind_tok))
        return Readout(kind, start, stop, loc=self.at(st), field_locs=locs)

    def _layer(self, st, layer, kind: str, start: float, stop: float, locs: dict) -> Readout:
        """The linear readout's block: segments, floor, features, classes (validated later)."""
        locs.update(features=self.at(layer), classes=self.at(layer), segments=self.at(layer))
        once: dict[str, lark.Tree] = {}
        features, scores = [], []
        for item in layer.children:
            if item.data in ("segments", "floor", "law"):
                if item.data in once:
                    raise ModelError(f"{item.data} given twice (first at line {once[item.data].meta.line})",
                                     self.at(item))
                once[item.data] = item
            elif item.data == "feature":
                features.append(item)
            else:
                scores.append(item)
        boundaries: tuple[float, ...] = (start, stop)
        if "segments" in once:
            toks = once["segments"].children
            boundaries = tuple(self.quantity(t, "segment boundary", "s") for t in toks)
            locs["segments"] = self.at(once["segments"])
            locs.update({f"boundary{i}": self.at(t) for i, t in enumerate(toks)})
        law = self._law(once["law"]) if "law" in once else None
        floor = 0.0
        if "floor" in once:
            (floor_tok,) = once["floor"].children
            floor = self.quantity(floor_tok, "floor", None)
            locs["floor"] = self.at(floor_tok)
        elif law is None:
            raise ModelError("readout linear needs 'floor ε;' (ε > 0 in node units², added to each mean square "
                             "before its log)", self.at(layer))
        n_segments = len(boundaries) - 1
        return Readout(kind, start, stop, segments=boundaries, floor=floor,
                       features=tuple(self._feature(f, n_segments) for f in features),
                       classes=tuple(self._score(c) for c in scores), law=law, loc=self.at(st), field_locs=locs)

    def _law(self, st: lark.Tree) -> DiodeLaw:
        """``law diode (nvt = .. V, rate = .. Hz, clip = .. V[, hold = .. s]);`` (signs checked later)."""
        name_tok, params = st.children
        if str(name_tok) != DIODE:
            raise ModelError(f"law must be {DIODE} (the passive diode cell; without a law a feature is "
                             f"ln(MS + floor)), got {str(name_tok)!r}", self.at(name_tok))
        what = f"law {DIODE}"
        values, toks, form = self.params(params, [_DIODE_LAW], what)
        self._require(values, form, params, what, optional={"hold"})
        locs = {k: self.at(t) for k, t in toks.items()}
        return DiodeLaw(values["nvt"], values["rate"], values["clip"], values.get("hold"),
                        loc=self.at(st), field_locs=locs)

    def _feature(self, st: lark.Tree, n_segments: int) -> Feature:
        name_tok, node_tok, *rest = st.children
        what = f"feature {name_tok}"
        locs = {"node": self.at(node_tok)}
        segment = 0
        values, toks, _ = self.params(rest[0] if rest else None, [_FEATURE], what)
        if "segment" in values:
            value, tok = values["segment"], toks["segment"]
            locs["segment"] = self.at(tok)
            if value != int(value):
                raise ModelError(f"segment of {what} must be an integer (segments count from 0), got {value!r}",
                                 self.at(tok))
            segment = int(value)
        elif n_segments > 1:
            raise ModelError(f"{what} must say which segment it reads: (segment = k), k in 0..{n_segments - 1} "
                             f"(the window has {n_segments} segments)", self.at(name_tok))
        if "gain" in toks:
            locs["gain"] = self.at(toks["gain"])
        return Feature(str(name_tok), str(node_tok), segment, values.get("gain", 1.0), loc=self.at(name_tok),
                       field_locs=locs)

    def _score(self, st: lark.Tree) -> ClassScore:
        cls_tok, *rest = st.children
        bias, locs = 0.0, {}
        if rest and rest[0].data == "params":
            values, toks, _ = self.params(rest.pop(0), [_SCORE], f"class {cls_tok}")
            bias = values.get("bias", 0.0)
            locs.update({k: self.at(t) for k, t in toks.items()})
        pairs = []
        for i, term in enumerate(rest):
            feature_tok, weight_tok = term.children
            pairs.append((str(feature_tok), self.quantity(weight_tok, f"weight of class {cls_tok}", None)))
            locs[f"feature{i}"] = self.at(feature_tok)
            locs[f"weight{i}"] = self.at(weight_tok)
        return ClassScore(str(cls_tok), bias, tuple(pairs), loc=self.at(cls_tok), field_locs=locs)


def _describe(sets: list[dict[str, str | None]]) -> str:
    return " or ".join("(" + ", ".join(s) + ")" for s in sets)
