"""Modified nodal analysis of a :class:`CircuitGraph` with numpy.

The circuit becomes the descriptor system ``E dx/dt = A x + B u``: ``x`` holds the voltage of
every non-ground net (``v(net)``, subcircuit nets flattened as ``v(X1.mid)``) and the branch
current of every inductor, VCVS, voltage source, CCVS and input source (``i(L3)``,
``i(X1.E1)``, ``i(V2)``, ``i(H1)``, ``i(V:in)``); ``u`` holds the input port voltages, each
imposed by an ideal source from ground. Every KCL row sums the currents *leaving* its net.
Units: volts, amperes, seconds; frequencies in hertz, poles in rad/s.

The analysis is small-signal: a ``V`` element's DC ``value`` is not an input, so every V source
is a short that carries a branch-current unknown (a 0 V ammeter whose current an ``H`` may
read). Bias points are the simulator's business.

Reduction to an ordinary state space (:meth:`MnaSystem.state_space`) handles index-1 systems:
the algebraic unknowns are eliminated, and a cluster of nets joined by capacitors but not to
ground by capacitors (e.g. an integrator's feedback capacitor) first has its common-mode
voltage split off as an algebraic unknown. Higher-index circuits (capacitor/voltage-source
loops (voltage sources being inputs, E, V and H elements), inductor/current-source cutsets) and
floating nets raise :class:`CircuitError`, except inductors in series through a net nothing
else touches, which are merged first (:mod:`.reduce`).

Cost: stamping is vectorised per kind (O(components), the stamps kept sparse); AC analysis is
dense up to DENSE_LIMIT unknowns and iterative on the sparse matrices above (O(nonzeros) per
frequency, see :func:`numerics.solve_shifted`); :meth:`MnaSystem.state_space` and
:meth:`MnaSystem.poles` are dense, O(n³).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse

from .. import numerics
from ..errors import CircuitError
from .graph import GROUND, INVERTED_INPUTS, CircuitGraph, Component, flatten
from .reduce import merge_series_inductors

#: Kinds whose branch current is an unknown (their stamps impose a voltage, not a current).
BRANCH_KINDS = ("L", "E", "V", "H")

#: Resistors smaller than this (ohm) are stamped in branch form (their current an unknown,
#: ``v(p) − v(n) = R·i``) instead of as a conductance 1/R, which would swamp the other entries
#: of its nets' rows and cost the solve most of its digits.
BRANCH_FORM_BELOW_OHM = 1e-3


#: Up to this many unknowns AC solves are dense (batched LAPACK, O(n³) per frequency); above,
#: all frequencies are solved together iteratively on the sparse matrices
#: (:func:`numerics.solve_shifted`, near O(nonzeros) per frequency, direct sparse LU where that does
#: not converge). Small circuits keep the dense path, so their results do not change digits.
#: (Measured on 2 cores: OpenBLAS turns to threads at 100 × 100 and each solve then costs
#: ~50× more, while the iterative path costs ~1 ms a frequency at this size.)
DENSE_LIMIT = 80


def is_branch(comp: Component) -> bool:
    """True when ``comp`` carries its own current unknown in the MNA."""
    return comp.kind in BRANCH_KINDS or (comp.kind == "R" and abs(comp.value) < BRANCH_FORM_BELOW_OHM)

#: Below this ratio of smallest to largest singular value (after row/column equilibration) a
#: matrix the reduction must invert is treated as singular.
SINGULAR_RCOND = 1e-13


@dataclass(eq=False)  # numpy matrices have no single truth value to compare by
class MnaSystem:
    """``E dx/dt = A x + B u`` with ``unknowns`` naming the entries of ``x`` and ``inputs`` the
    nets driven by the entries of ``u``.

    ``stamps_E`` and ``stamps_A`` hold every stamp as a sparse COO matrix, duplicates unsummed
    in stamping order; :attr:`E` and :attr:`A` are their dense sums (built on first use: a
    large circuit's dense matrices are hundreds of MB), :attr:`E_sparse` / :attr:`A_sparse`
    their CSR forms.

    ``floating_clusters`` lists, per group of nets joined by capacitors with no capacitor path
    to ground, the indices of their voltage unknowns (sorted; the first is the reference).
    """

    stamps_E: scipy.sparse.coo_array
    stamps_A: scipy.sparse.coo_array
    B: np.ndarray
    unknowns: list[str]
    inputs: list[str]
    floating_clusters: list[list[int]] = field(default_factory=list)
    _position: dict[str, int] = field(init=False, repr=False, compare=False)
    _cache: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._position = {name: i for i, name in enumerate(self.unknowns)}
        self._cache = {}

    @property
    def E(self) -> np.ndarray:
        """Dense E (n × n): the stamps summed in stamping order, as a dense matrix stamped in place."""
        if "E" not in self._cache:
            self._cache["E"] = self.stamps_E.toarray()
        return self._cache["E"]

    @property
    def A(self) -> np.ndarray:
        """Dense A (n × n), like :attr:`E`."""
        if "A" not in self._cache:
            self._cache["A"] = self.stamps_A.toarray()
        return self._cache["A"]

    @property
    def E_sparse(self) -> scipy.sparse.csr_array:
        if "Es" not in self._cache:
            self._cache["Es"] = self.stamps_E.tocsr()
        return self._cache["Es"]

    @property
    def A_sparse(self) -> scipy.sparse.csr_array:
        if "As" not in self._cache:
            self._cache["As"] = self.stamps_A.tocsr()
        return self._cache["As"]

    @property
    def n_unknowns(self) -> int:
        return len(self.unknowns)

    def index(self, net: str) -> int:
        """Position of ``v(net)`` in ``x``; CircuitError for ground or an unknown net."""
        if net == GROUND:
            raise CircuitError("ground has no voltage unknown (it is 0 V by definition)")
        try:
            return self._position[f"v({net})"]
        except KeyError:
            raise CircuitError(f"no net named {net} in the circuit") from None

    def ac(self, freqs_hz, outputs: list[str], warm: numerics.WarmStart | None = None) -> np.ndarray:
        """Small-signal response V(output)/u(input) at ``freqs_hz`` (Hz), as a complex array
        (outputs × inputs × freqs), solving ``(j2πf E − A) x = B``: dense up to DENSE_LIMIT
        unknowns, else iteratively on the sparse matrices (backward error below
        ``numerics.shifted.SOLVE_BACKWARD_ERROR``, sparse LU where the iteration does not get there;
        ``warm``: starting guesses from a previous iterative solve, updated).

        Raises CircuitError for an unknown output net or a circuit singular at some frequency.
        """
        freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
        out = np.zeros((len(outputs), len(self.inputs), freqs.size), dtype=complex)
        if not self.inputs:
            for net in outputs:
                if net != GROUND:
                    self.index(net)
            return out
        if self.n_unknowns > DENSE_LIMIT:
            try:
                return numerics.solve_shifted(self.E_sparse, self.A_sparse, self.B, 2j * np.pi * freqs,
                                              self._sparse_selector(outputs), warm)
            except np.linalg.LinAlgError as exc:
                raise CircuitError(f"MNA matrix is singular in the band (floating net or source loop): {exc}") from None
        # Dense LAPACK solves, batched over frequencies: accurate on scaled circuits (kΩ next to
        # mS entries), where SuperLU lost digits.
        select = self._selector(outputs)
        B = self.B.astype(complex)
        batch = max(1, int(4e6 // max(self.n_unknowns**2, 1)))
        for start in range(0, freqs.size, batch):
            f = freqs[start : start + batch]
            M = (2j * np.pi * f)[:, None, None] * self.E - self.A
            try:
                x = np.linalg.solve(M, np.broadcast_to(B, (f.size, *B.shape)))
            except np.linalg.LinAlgError:
                raise CircuitError("MNA matrix is singular in the band (floating net or source loop)") from None
            out[:, :, start : start + batch] = np.einsum("on,fnk->okf", select, x)
        return out

    def state_space(self, outputs: list[str]) -> numerics.StateSpace:
        """The equivalent ``dz/dt = A z + B u``, ``y = C z + D u`` with ``y`` the voltages of
        ``outputs`` (ground allowed: a zero row).

        States are the voltages of nets touched by capacitors (relative to their cluster's
        reference net for floating clusters) and the inductor currents, in ``unknowns`` order.

        Raises CircuitError for an unknown output net, or when the circuit is not index-1 or
        has a floating net (naming the unknowns that cannot be solved for).
        """
        select = self._selector(outputs)
        E, A, B, select = self._split_floating_clusters(select)
        dynamic = np.flatnonzero(np.any(E != 0, axis=0) | np.any(E != 0, axis=1))
        algebraic = np.setdiff1d(np.arange(self.n_unknowns), dynamic)
        d, a = np.ix_(dynamic, dynamic), np.ix_(dynamic, algebraic)
        A22 = A[np.ix_(algebraic, algebraic)]
        self._require_regular(
            A22, algebraic,
            "the circuit is not index-1 or has a floating net: cannot solve for {names}. Causes: a net "
            "joined only through capacitors or controlled-source inputs, a loop of capacitors and "
            "voltage sources (inputs, E, V, H elements), or a cutset of inductors and current sources "
            "(G elements)",
        )
        # z_alg = −(XA z_dyn + XB u) with [XA XB] = A22⁻¹ [A21 B2]
        solved = np.linalg.solve(A22, np.hstack([A[np.ix_(algebraic, dynamic)], B[algebraic]]))
        XA, XB = solved[:, : dynamic.size], solved[:, dynamic.size :]
        E11 = E[d]
        self._require_regular(
            E11, dynamic,
            "the capacitance/inductance matrix is singular for {names} (negative elements cancel)",
        )
        Ar = np.linalg.solve(E11, A[d] - A[a] @ XA)
        Br = np.linalg.solve(E11, B[dynamic] - A[a] @ XB)
        C = select[:, dynamic] - select[:, algebraic] @ XA
        D = -select[:, algebraic] @ XB
        return numerics.StateSpace(Ar, Br, C, D)

    def transient(self, u, dt: float, outputs: list[str], method: str = "convolution") -> np.ndarray:
        """Output voltages for inputs ``u`` (signals × inputs × samples, sample k at k·dt s,
        linear between samples) from zero state: (signals × outputs × samples).

        Uses :func:`numerics.simulate_foh` on :meth:`state_space`; raises what those raise
        (CircuitError for the circuit, ValueError for shapes).
        """
        return numerics.simulate_foh(self.state_space(outputs), u, dt, method=method)

    def poles(self) -> np.ndarray:
        """Finite poles of the circuit (rad/s), sorted by decreasing real part.

        Raises CircuitError as :meth:`state_space` does.
        """
        return self.state_space([]).poles()

    # -- internals --------------------------------------------------------------------------

    def _selector(self, outputs: list[str]) -> np.ndarray:
        select = np.zeros((len(outputs), self.n_unknowns))
        for row, net in enumerate(outputs):
            if net != GROUND:
                select[row, self.index(net)] = 1.0
        return select

    def _sparse_selector(self, outputs: list[str]) -> scipy.sparse.csr_array:
        """:meth:`_selector` as a sparse matrix (outputs may be every net of a large circuit)."""
        rows = [row for row, net in enumerate(outputs) if net != GROUND]
        cols = [self.index(outputs[row]) for row in rows]
        return scipy.sparse.csr_array((np.ones(len(rows)), (rows, cols)), shape=(len(outputs), self.n_unknowns))

    def _split_floating_clusters(self, select: np.ndarray):
        """Change variables so each floating capacitor cluster's reference voltage is
        algebraic: ``v_j = z_j + z_ref`` for the other members, and the reference's KCL row
        becomes the cluster's total current balance (in which capacitor currents cancel).

        Returns ``(E, A, B, select)`` in the new coordinates; the equivalence is exact.
        """
        n = self.n_unknowns
        T = np.eye(n)  # x = T z
        S = np.eye(n)  # rows combine as S (E, A, B)
        for cluster in self.floating_clusters:
            ref, others = cluster[0], cluster[1:]
            T[others, ref] = 1.0
            S[ref, others] = 1.0
        E = S @ self.E @ T
        refs = [c[0] for c in self.floating_clusters]
        # The reference row and column of E are zero by construction (capacitor stamps sum to
        # zero over a cluster); clear rounding residue so they are classified algebraic.
        E[refs, :] = 0.0
        E[:, refs] = 0.0
        return E, S @ self.A @ T, S @ self.B, select @ T

    def _require_regular(self, M: np.ndarray, which: np.ndarray, message: str) -> None:
        """Raise CircuitError (``message`` with ``{names}`` filled in) unless square ``M``
        is safely invertible; the names are the unknowns ``which`` its null vector involves."""
        if M.size == 0:
            return
        scaled = _equilibrate(M)
        _, sigma, vh = np.linalg.svd(scaled)
        if sigma[-1] > SINGULAR_RCOND * sigma[0]:
            return
        null = np.abs(vh[-1])
        involved = [self.unknowns[which[i]] for i in np.flatnonzero(null > 0.1 * null.max())]
        raise CircuitError(message.format(names=", ".join(involved)))


def _equilibrate(M: np.ndarray) -> np.ndarray:
    """Scale rows then columns of ``M`` to unit max-abs, so mixed units (siemens next to
    volt-per-volt gains) do not pass for near-singularity; all-zero rows/columns stay zero."""
    rows = np.abs(M).max(axis=1)
    M = M / np.where(rows > 0, rows, 1.0)[:, None]
    cols = np.abs(M).max(axis=0)
    return M / np.where(cols > 0, cols, 1.0)[None, :]


def mna_matrices(graph: CircuitGraph, inputs: list[str] | None = None) -> MnaSystem:
    """Build the MNA descriptor system of ``graph``.

    ``inputs`` are the nets driven by the entries of ``u`` (in that order); by default the
    ports with role ``'input'`` in declaration order, less the inverted copies. Any non-ground
    net may be driven. An inverted input (``graph.meta[INVERTED_INPUTS]``: {net: input net})
    whose input is driven gets −u of that input (its source current ``i(V:<net>)``).

    Raises CircuitError for an unknown, ground or repeated input net, for a subcircuit
    instance that cannot be expanded, or for an H whose controlling V source does not exist.
    """
    inverted_of = graph.meta.get(INVERTED_INPUTS, {})
    if inputs is None:
        inputs = [p.name for p in graph.ports if p.role == "input" and p.name not in inverted_of]
    prims, merged_away = merge_series_inductors(flatten(graph), [p.name for p in graph.ports] + list(inputs))
    # Control and supply ports only the (non-linear) readout instance touches are no nets of the linear part.
    outside = {p.name for p in graph.ports if p.role in ("control", "supply")}
    nets = sorted(({n for c in prims for n in c.nodes} | (set(graph.nets()) - outside)) - {GROUND} - merged_away)
    for net in inputs:
        if net == GROUND or net not in nets:
            raise CircuitError(f"input {net!r} is not a non-ground net of the circuit")
    if len(set(inputs)) != len(inputs):
        raise CircuitError(f"inputs repeat a net: {inputs}")

    inverted = [(net, inputs.index(src)) for net, src in inverted_of.items()
                if src in inputs and net not in inputs and net in nets]
    driven = list(inputs) + [net for net, _ in inverted]
    branches = [c for c in prims if is_branch(c)]
    unknowns = [f"v({n})" for n in nets] + [f"i({c.name})" for c in branches] + [f"i(V:{n})" for n in driven]
    node = {n: i for i, n in enumerate(nets)}
    size = len(unknowns)
    E, A = _stamp(prims, node, {c.name: len(nets) + k for k, c in enumerate(branches)})
    B = np.zeros((size, len(inputs)))
    sources = []
    for k, (net, column, sign) in enumerate([(n, i, 1.0) for i, n in enumerate(inputs)]
                                            + [(n, i, -1.0) for n, i in inverted]):
        row = len(nets) + len(branches) + k
        # Source current leaves `net` into the source; its row imposes v(net) = ±u_column.
        sources += [(node[net], row, -1.0), (row, node[net], -1.0)]
        B[row, column] = sign
    if sources:
        rows, cols, vals = zip(*sources)
        A = (np.r_[A[0], rows], np.r_[A[1], cols], np.r_[A[2], vals])
    return MnaSystem(_coo(E, size), _coo(A, size), B, unknowns, list(inputs), _floating_clusters(prims, node))


#: Each kind's stamp, entry by entry in the order it is added: (matrix, row, column, value).
#: Rows and columns are the component's nodes by position (0…3, ground dropped), its own branch
#: current ``"b"`` or its controlling V source's ``"ctl"``; values are ±1, ``"v"``/``"-v"`` (its
#: value) or ``"g"``/``"-g"`` (its conductance −1/R: KCL rows sum the currents leaving a net).
#: ``R`` is a resistor stamped as a conductance, ``R_branch`` one below BRANCH_FORM_BELOW_OHM.
_TEMPLATES = {
    "R": [("A", 0, 0, "g"), ("A", 1, 1, "g"), ("A", 0, 1, "-g"), ("A", 1, 0, "-g")],
    "R_branch": [("A", 0, "b", -1.0), ("A", 1, "b", 1.0), ("A", "b", 0, 1.0), ("A", "b", 1, -1.0),
                 ("A", "b", "b", "-v")],
    "C": [("E", 0, 0, "v"), ("E", 1, 1, "v"), ("E", 0, 1, "-v"), ("E", 1, 0, "-v")],
    # i_L flows p → n through the inductor; L di/dt = v(p) − v(n).
    "L": [("A", 0, "b", -1.0), ("A", 1, "b", 1.0), ("E", "b", "b", "v"), ("A", "b", 0, 1.0), ("A", "b", 1, -1.0)],
    # value·(v(cp) − v(cn)) leaves `op` and enters `on` (SPICE G convention).
    "G": [("A", 0, 2, "-v"), ("A", 0, 3, "v"), ("A", 1, 2, "v"), ("A", 1, 3, "-v")],
    # Voltage branches (E, V, H): the current flows p → n through the element, and its row is
    # 0 = v(n) − v(p) + gain·(v(cp) − v(cn)) for E, + value·i(ctl) for H, nothing more for V (a
    # small-signal short: its DC value only sets the bias point).
    "E": [("A", 0, "b", -1.0), ("A", 1, "b", 1.0), ("A", "b", 0, -1.0), ("A", "b", 1, 1.0),
          ("A", "b", 2, "v"), ("A", "b", 3, "-v")],
    "V": [("A", 0, "b", -1.0), ("A", 1, "b", 1.0), ("A", "b", 0, -1.0), ("A", "b", 1, 1.0)],
    "H": [("A", 0, "b", -1.0), ("A", 1, "b", 1.0), ("A", "b", 0, -1.0), ("A", "b", 1, 1.0), ("A", "b", "ctl", "v")],
}

#: Kinds stamped as a conductance between their two nodes: nothing for a self-loop.
_CONDUCTANCES = ("R", "C")


def _stamp(prims: list[Component], node: dict[str, int], branch: dict[str, int]) -> tuple[tuple, tuple]:
    """The stamps of ``prims`` into E and A, each as (rows, columns, values) arrays in the
    order a component-by-component stamping would add them (so summing them in order gives
    the same floats), built kind by kind with numpy. ``branch``: the unknown index of every
    branch-current primitive.

    Raises CircuitError for an H whose control is not a V source of the circuit.
    """
    sources = {c.name for c in prims if c.kind == "V" and c.name in branch}
    groups: dict[str, list[int]] = {}
    for k, comp in enumerate(prims):
        kind = comp.kind
        if kind == "R" and comp.name in branch:
            kind = "R_branch"
        elif kind == "H" and comp.control not in sources:
            raise CircuitError(f"{comp.name}: controlling source {comp.control} is not a V source of the circuit")
        groups.setdefault(kind, []).append(k)
    found: dict[str, list[tuple[np.ndarray, ...]]] = {"E": [], "A": []}
    for kind, positions in groups.items():
        comps = [prims[k] for k in positions]
        value = np.array([c.value for c in comps], dtype=float)
        width = max(len(c.nodes) for c in comps)
        refs: dict = {i: np.array([node.get(c.nodes[i], -1) if i < len(c.nodes) else -1 for c in comps],
                                  dtype=np.intp) for i in range(width)}
        refs["b"] = np.array([branch.get(c.name, -1) for c in comps], dtype=np.intp)
        if kind == "H":
            refs["ctl"] = np.array([branch[c.control] for c in comps], dtype=np.intp)
        g = -1.0 / value if kind == "R" else value
        values = {"v": value, "-v": -value, "g": g, "-g": -g}
        live = (np.array([c.nodes[0] != c.nodes[1] for c in comps]) if kind in _CONDUCTANCES
                else np.ones(len(comps), dtype=bool))
        order = np.array(positions, dtype=np.intp) * 8
        for j, (matrix, row, col, v) in enumerate(_TEMPLATES[kind]):
            rows, cols = refs[row], refs[col]
            keep = live & (rows >= 0) & (cols >= 0)
            vals = values[v] if isinstance(v, str) else np.full(len(comps), v)
            found[matrix].append((order[keep] + j, rows[keep], cols[keep], vals[keep]))
    out = []
    for matrix in ("E", "A"):
        if not found[matrix]:
            out.append((np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp), np.zeros(0)))
            continue
        key, rows, cols, vals = (np.concatenate(part) for part in zip(*found[matrix]))
        seq = np.argsort(key, kind="stable")
        out.append((rows[seq], cols[seq], vals[seq]))
    return out[0], out[1]


def _coo(triplets: tuple, size: int) -> scipy.sparse.coo_array:
    """(rows, columns, values) as a COO matrix, duplicates unsummed in their order (summed in
    that order, the dense matrix is bit for bit the one stamped in place)."""
    rows, cols, vals = triplets
    return scipy.sparse.coo_array((np.asarray(vals, dtype=float), (np.asarray(rows, dtype=np.intp),
                                   np.asarray(cols, dtype=np.intp))), shape=(size, size))


def _floating_clusters(prims: list[Component], node: dict[str, int]) -> list[list[int]]:
    """Groups of nets joined by (nonzero, non-self-loop) capacitors that have no capacitor
    path to ground, as sorted voltage-unknown indices, in order of their first index."""
    caps = nx.Graph()
    caps.add_edges_from(c.nodes for c in prims if c.kind == "C" and c.value != 0 and c.nodes[0] != c.nodes[1])
    clusters = [sorted(node[n] for n in comp) for comp in nx.connected_components(caps) if GROUND not in comp]
    return sorted(clusters)
