"""KiCad checks the compiled schematic: ERC, the netlist's graph against the deck, and the
SPICE netlist KiCad exports against the shipped testbench in ngspice.

Everything here runs KiCad's own ``kicad-cli`` (KiCad 9); :func:`kicad_cli` finds it.
Used by ``tests/test_kicad.py``; docs/kicad.md says what each check proves.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...backend.spice_reader import read_library
from ...circuit import CircuitGraph
from ...errors import SimulationError
from .readout import flatten, is_readout, spice_tail
from .sexpr import Node, children, loads

#: Net name prefix KiCad gives local labels of the root sheet and of a hierarchical sheet.
_SHEET_PATH = re.compile(r"^/(?:[^/]+/)?")
_LAW_PATH = re.compile(r"v\(/(?:[^/()]+/)?")
_MODEL = re.compile(r'model="\{?([^"}]*)\}?"')


def kicad_cli() -> str | None:
    """The path of ``kicad-cli``, or None when KiCad is not installed."""
    return shutil.which("kicad-cli")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cli = kicad_cli()
    if cli is None:
        raise SimulationError("kicad-cli not found: install KiCad 9 (make system-deps)")
    done = subprocess.run([cli, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode not in (0, 5):  # 5: ERC found violations (with --exit-code-violations)
        raise SimulationError(f"kicad-cli {' '.join(args[:2])} failed: {(done.stderr or done.stdout)[-500:]}")
    return done


def erc_errors(schematic: Path) -> list[str]:
    """``kicad-cli sch erc``'s violations of severity error, one line each ([] when clean)."""
    report = schematic.with_suffix(".erc.json")
    try:
        _run(["sch", "erc", "--format", "json", "--severity-error", "-o", str(report), str(schematic)], schematic.parent)
        data = json.loads(report.read_text())
    finally:
        report.unlink(missing_ok=True)
    return [f"{v['type']}: {v['description']}" for sheet in data.get("sheets", []) for v in sheet.get("violations", [])
            if v.get("severity") == "error"]


def export(schematic: Path, fmt: str, out: Path) -> str:
    """``kicad-cli sch export netlist --format fmt`` of ``schematic`` as text."""
    _run(["sch", "export", "netlist", "--format", fmt, "-o", str(out), str(schematic)], schematic.parent)
    return out.read_text()


@dataclass(frozen=True)
class Element:
    """One element as a netlist sees it: its model (SPICE letter and value text, or the
    subcircuit's name) and its nets in the model's node order."""

    model: str
    nets: tuple[str, ...]


@dataclass
class GraphComparison:
    """The KiCad netlist against the deck: elements missing from either side and elements
    whose model or nets differ; ``board_only`` (the connector) and ``simulation_only`` (the
    deck's ideal and wiring elements, kept off the board) are listed, not errors."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    board_only: list[str] = field(default_factory=list)
    simulation_only: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.different)


def _fields(comp: Node) -> dict[str, str]:
    return {str(children(f, "name")[0].items[0]): (str(f.items[-1]) if not isinstance(f.items[-1], Node) else "")
            for fs in children(comp, "fields") for f in children(fs, "field")}


def _net(name: str) -> str:
    """A KiCad net name as the deck's: the root's ``/`` or a sheet's ``/<sheet>/`` dropped."""
    return _SHEET_PATH.sub("", name)


def kicad_elements(netlist_text: str) -> tuple[dict[str, Element], list[str]]:
    """The simulated elements of a ``kicadsexpr`` netlist by reference (nets in model pin
    order, read through each symbol's ``Sim.Pins``) and the references KiCad does not
    simulate (the netlist is the board's: symbols kept off the board are not in it)."""
    root = loads(netlist_text)
    pin_nets: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for net in children(children(root, "nets")[0], "net"):
        raw = str(children(net, "name")[0].items[0])
        name = _net(raw)
        if name in seen:  # two KiCad nets, one deck name: a connection the sheets lost
            name = f"{name} (split: {raw})"
        seen.add(name)
        for n in children(net, "node"):
            pin_nets.setdefault(str(children(n, "ref")[0].items[0]), {})[str(children(n, "pin")[0].items[0])] = name
    elements, unsimulated = {}, []
    for comp in children(children(root, "components")[0], "comp"):
        ref, fields = str(comp.items[0].items[0]), _fields(comp)
        props = {str(children(p, "name")[0].items[0]) for p in children(comp, "property")}
        if "exclude_from_sim" in props or "Sim.Pins" not in fields:
            unsimulated.append(ref)
            continue
        order = [pair.split("=") for pair in fields["Sim.Pins"].split()]
        raw = _MODEL.search(fields.get("Sim.Params", ""))
        model = f"{ref[0]} {_LAW_PATH.sub('v(', raw.group(1))}" if raw else fields.get("Sim.Name", "?")
        elements[ref] = Element(model, tuple(pin_nets[ref][pin] for pin, _ in order))
    return elements, unsimulated


def deck_elements(graph: CircuitGraph) -> dict[str, Element]:
    """The deck's elements (its components, the readout instance's flattened as the schematic
    draws them: :func:`.readout.flatten`) in the same terms: a subcircuit instance by its
    subcircuit, anything else by its letter and what follows its nodes on the deck's line."""
    comps = graph.components + ([graph.readout] if graph.readout is not None else [])
    flat = []
    for c in comps:
        defn = graph.subcircuits.get(c.subckt) if c.kind == "X" else None
        flat += flatten(c, defn) if defn is not None and is_readout(defn) else [c]
    return {c.name: Element(c.subckt if c.kind == "X" else f"{c.kind} {spice_tail(c)}".replace('"', "'"), tuple(c.nodes))
            for c in flat}


def compare_graphs(deck: dict[str, Element], kicad: dict[str, Element], unsimulated: list[str],
                   off_board: set[str]) -> GraphComparison:
    """Element by element: same references, models and nets (names included). ``off_board``:
    the deck elements the schematic keeps off the board (KiCad's netlist leaves them out),
    listed as simulation-only instead of missing."""
    absent = set(deck) - set(kicad)
    result = GraphComparison(missing=sorted(absent - off_board), extra=sorted(set(kicad) - set(deck)))
    result.different = sorted(f"{ref}: deck {deck[ref]} kicad {kicad[ref]}" for ref in set(deck) & set(kicad)
                              if not _same(deck[ref], kicad[ref]))
    result.board_only = sorted(r for r in unsimulated if not r.startswith("#"))
    result.simulation_only = sorted(absent & off_board)
    result.extra += sorted(off_board & set(kicad))  # should have stayed off the board
    return result


def _same(a: Element, b: Element) -> bool:
    """Equal up to case (SPICE names are case-insensitive; the deck reader lower-cases nets)."""
    return a.model.lower() == b.model.lower() and tuple(map(str.lower, a.nets)) == tuple(map(str.lower, b.nets))


def read_deck(outdir: Path, manifest: dict) -> CircuitGraph:
    """The compiled deck in ``outdir`` read back from its library (the readout instance, if
    any, stays among the components)."""
    return read_library(outdir / manifest["library"], manifest["subckt"], {})


def kicad_testbench(outdir: Path, manifest: dict, spice_text: str, order: list[str]) -> Path:
    """A copy of the shipped testbench that simulates KiCad's SPICE export instead of the
    deck's subcircuit: KiCad's element lines, sorted into the deck's element ``order``,
    wrapped in ``.subckt <subckt>_kicad <ports>`` (its ``.include`` lines, the deck's ``.lib``
    for the op-amp and readout models, kept outside). Returns its path (``<name>_kicad.cir``
    in ``outdir``).

    Why sorted: KiCad writes symbols in its spatial index's order, and ngspice's pivoting
    follows element order; on a deck with a near-zero DC loop breaker (the toy's R16) some
    orders stop ngspice with "timestep too small" (docs/kicad.md)."""
    subckt, name = manifest["subckt"], Path(manifest["library"]).stem
    lines = [ln for ln in spice_text.splitlines() if ln.strip() and not ln.startswith((".title", ".end"))]
    includes = [ln for ln in lines if ln.lower().startswith(".include")]
    rank = {ref.lower(): i for i, ref in enumerate(order)}
    body = sorted((ln for ln in lines if not ln.lower().startswith(".include")),
                  key=lambda ln: rank.get(ln.split()[0].lower(), len(rank)))
    lib = includes + [f".subckt {subckt}_kicad {' '.join(manifest['ports'])}", *body, f".ends {subckt}_kicad"]
    (outdir / f"{name}_kicad.lib").write_text("\n".join(lib) + "\n")
    bench = (outdir / manifest["testbench"]).read_text()
    bench = bench.replace(f".include {manifest['library']}", f".include {name}_kicad.lib")
    bench = re.sub(rf" {re.escape(subckt)}$", f" {subckt}_kicad", bench, flags=re.M)
    path = outdir / f"{name}_kicad.cir"
    path.write_text(bench)
    return path


_TRAN = re.compile(r"^(\.tran\s+\S+\s+)(\S+)", re.M)


def _shortened(deck: Path, fraction: float) -> Path:
    """A copy of testbench ``deck`` whose ``.tran`` stops at ``fraction`` of its stop time,
    without its ``.meas`` lines (their windows may end later); ``deck`` itself if 1."""
    if fraction >= 1:
        return deck
    text = _TRAN.sub(lambda m: m.group(1) + f"{float(m.group(2)) * fraction:.6e}", deck.read_text())
    copy = deck.with_name(deck.stem + "_short.cir")
    copy.write_text("".join(ln for ln in text.splitlines(True) if not ln.lower().startswith(".meas")))
    return copy


def worst_relative_difference(deck_cir: Path, kicad_cir: Path, ports: list[str], fraction: float = 1.0) -> float:
    """The largest difference between the two testbenches' transient outputs on ``ports``,
    relative to each port's peak in the deck's run (KiCad's run interpolated onto the deck's
    time points); both run over the first ``fraction`` of the testbench's time."""
    from ...sim import NgspiceBatch

    a = NgspiceBatch().run(_shortened(deck_cir, fraction)).plot("tran")
    b = NgspiceBatch().run(_shortened(kicad_cir, fraction)).plot("tran")
    ta, tb = a.get("time").real, b.get("time").real
    worst = 0.0
    for port in ports:
        va, vb = a.get(f"v({port})").real, np.interp(ta, tb, b.get(f"v({port})").real)
        worst = max(worst, float(np.max(np.abs(va - vb)) / max(np.max(np.abs(va)), 1e-300)))
    return worst


def off_board(schematic_text: str) -> set[str]:
    """References of the schematic's symbols marked ``(on_board no)`` (power symbols aside)."""
    refs = set()
    for sym in children(loads(schematic_text), "symbol"):
        flags = {n.head: str(n.items[0]) for n in sym.items if isinstance(n, Node) and n.items}
        ref = next(str(p.items[1]) for p in children(sym, "property") if str(p.items[0]) == "Reference")
        if flags.get("on_board") == "no" and not ref.startswith("#"):
            refs.add(ref)
    return refs


@dataclass
class KicadReport:
    """The three checks of one compiled output: ERC errors, the board netlist against the
    deck, and the worst relative difference of KiCad's SPICE export against the deck's own
    testbench outputs."""

    erc: list[str]
    graph: GraphComparison
    spice_difference: float


def check_compiled(outdir: Path, fraction: float = 1.0) -> KicadReport:
    """Run every check on the compiled output in ``outdir`` (written with ``--kicad``), the
    SPICE comparison over the first ``fraction`` of the testbench's time. The KiCad exports
    and the derived testbenches are written into ``outdir`` (``*_kicad.*``, ``*_short.cir``)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    name = Path(manifest["library"]).stem
    schematic = outdir / f"{name}.kicad_sch"
    deck = deck_elements(read_deck(outdir, manifest))
    kicad, unsimulated = kicad_elements(export(schematic, "kicadsexpr", outdir / f"{name}_kicad.net"))
    sheets = [schematic, *sorted(outdir.glob(f"{name}_*.kicad_sch"))]
    graph = compare_graphs(deck, kicad, unsimulated, set().union(*(off_board(s.read_text()) for s in sheets)))
    bench = kicad_testbench(outdir, manifest, export(schematic, "spice", outdir / f"{name}_kicad.spice"), list(deck))
    observed = [p["port"] for p in manifest["outputs"] + manifest.get("taps", []) + manifest.get("decisions", [])]
    return KicadReport(erc_errors(schematic), graph,
                       worst_relative_difference(outdir / manifest["testbench"], bench, observed, fraction))
