"""CPU per clip of a micropower deck in ngspice, the part models of a base revision against today's.

The same model (default ``examples/tactile/micropower.r2nn``) is compiled with ``--readout analog``
twice: by the package of ``--base`` (a git revision, exported with ``git archive``; default the
last revision whose op-amps, comparators and switches were large B-source expressions) and by this
checkout's package. Each held-out clip (``run_demo.py``'s split, the first ``--clips`` taken
round-robin over the classes) is verified with each deck, alternately, clip by clip, in its own
``r2nn verify MODEL OUT --signals CLIP --no-ac --accuracy 0.01 --no-refine --workers 1 --json``
subprocess; the CPU it and its children used (user + system, ``getrusage``) is the clip's cost.
Prints per clip and in total: CPU s, the circuit's decision, the reference's, the supply energy
per decision measured in ngspice, and the largest difference between the two decks' circuit
scores (score units); ``uptime`` before and after (the machine may be shared: the ratio is
measured side by side, the absolute seconds are not).

``--profile SECONDS`` instead profiles both decks: verify's deck for the first clip, cut to
SECONDS of circuit time, run by ngspice with ``.options acct`` as it is and with device groups
replaced by 1 GΩ stubs (op-amps, comparators, both, the switches; the circuit then computes
something else: only the cost is read), printing CPU s, time points, Newton iterations, circuit
equations and ngspice's matrix-load time per variant.

``--elements`` prints ngspice's cost of one element of each form the models used or use:
:data:`COPIES` copies, each on its own nets driven by two slow sines through resistors, 5000
fixed steps (about 10 000 Newton iterations); the CPU above the same deck without them, per copy.

``--calibrate`` compiles both with ``--calibrate-signals`` on the split's training clips.

Usage: python bench/bench_micropower_sim.py [--clips 5] [--model M.r2nn] [--base REV] [--accuracy 0.01] [--calibrate]
       python bench/bench_micropower_sim.py --profile 0.1
       python bench/bench_micropower_sim.py --elements
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

#: The last revision with the B-source part models (parts/models.py before the speed work): the
#: head of the branch with the volt-bounded tactile layer and the calibrated score scale, whose
#: readout this checkout's merges unchanged.
BASE = "b8138e1"


@dataclass(frozen=True)
class ClipRun:
    """One clip verified with one deck: CPU seconds (all, and ngspice's), the classes, the measured
    supply energy (J) and the circuit's class scores."""

    cpu_s: float
    ngspice_s: float
    circuit: str
    reference: str
    energy_j: float
    scores: dict[str, float]


def export_base(rev: str, into: Path) -> Path:
    """The package ``r2nn_compiler`` of revision ``rev`` under ``into`` (returned)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "r2nn_compiler"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


#: Prepended to the r2nn process: at exit it prints its own CPU and its children's (ngspice's,
#: verify running with one worker in-process) to stderr.
RUSAGE = ("import atexit, resource; atexit.register(lambda: print('RUSAGE', *(u.ru_utime + u.ru_stime for u in "
          "(resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))), "
          "file=sys.stderr)); ")


def r2nn(package: Path | None, args: list[str]) -> subprocess.CompletedProcess:
    """``r2nn ARGS`` with ``package`` (a folder holding r2nn_compiler) first on the path, or the
    installed package when None."""
    head = f"import sys; sys.path.insert(0, {str(package)!r}); " if package else "import sys; "
    code = head + RUSAGE + "from r2nn_compiler.cli import main; sys.argv = ['r2nn'] + sys.argv[1:]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def verify_clip(model: Path, deck: Path, clip_dir: Path, accuracy: float, report: Path) -> ClipRun:
    """Verify the one clip in ``clip_dir`` with ``deck``; its CPU and the report's figures."""
    before = children_cpu()
    done = r2nn(None, ["verify", str(model), str(deck), "--signals", str(clip_dir), "--no-ac", "--accuracy",
                       str(accuracy), "--no-refine", "--workers", "1", "--json", str(report)])
    cpu = children_cpu() - before
    if not report.is_file():
        raise RuntimeError(f"verify wrote no report:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    sig = json.loads(report.read_text())["signals"][0]
    ngspice = float(re.findall(r"^RUSAGE \S+ (\S+)$", done.stderr, flags=re.M)[-1])
    return ClipRun(cpu, ngspice, sig["circuit_class"], sig["reference_class"], sig["decision"]["supply_energy_j"],
                   sig["features_circuit"])


def pick_clips(folder: Path, count: int) -> list[Path]:
    """``count`` clips of the class folders under ``folder``, round-robin over the classes."""
    classes = [sorted(d.glob("*.wav")) for d in sorted(p for p in folder.iterdir() if p.is_dir())]
    picks = [clips[k] for k in range(max(len(c) for c in classes)) for clips in classes if k < len(clips)]
    return picks[:count]


#: Runs ``r2nn verify ARGS`` but writes verify's first ngspice deck and its input files to the
#: folder given first instead of simulating.
CAPTURE = """
import shutil, sys
from pathlib import Path
from r2nn_compiler.verify import transient_run
from r2nn_compiler.cli import main
dest = Path(sys.argv[1])
def capture(engine, deck_text, workdir, name="verify.cir"):
    dest.mkdir(parents=True, exist_ok=True)
    for f in Path(workdir).iterdir():
        shutil.copy(f, dest / f.name)
    (dest / name).write_text(deck_text)
    raise SystemExit(0)
transient_run.run_deck = capture
sys.argv = ["r2nn", "verify", *sys.argv[2:]]
main()
"""

#: Profile variants: subcircuit name -> stub body (1 GΩ resistors keep every pin connected).
STUBS = {"LPV802": ["Rstub1 out vss 1e9", "Rstub2 vdd vss 1e9"], "TLV7031": ["Rstub1 out vss 1e9", "Rstub2 vdd vss 1e9"],
         "TS12A44515": ["Rstub1 a b 1e9"]}
VARIANTS = {"as built": (), "op-amps stubbed": ("LPV802",), "comparators stubbed": ("TLV7031",),
            "op-amps and comparators stubbed": ("LPV802", "TLV7031"), "switches stubbed": ("TS12A44515",)}


def stub(library: str, names: tuple[str, ...]) -> str:
    """``library`` with the bodies of subcircuits ``names`` replaced by :data:`STUBS`."""
    for name in names:
        library = re.sub(rf"(\.subckt {name} [^\n]*\n).*?(\.ends {name})",
                         lambda m, n=name: m[1] + "\n".join(STUBS[n]) + "\n" + m[2], library, flags=re.S)
    return library


def profile_deck(deck: Path, library: Path, seconds: float, names: tuple[str, ...], work: Path) -> dict:
    """Run the captured verify ``deck`` (its library swapped for a stubbed copy) to ``seconds``."""
    work.mkdir()
    (work / "lib.lib").write_text(stub(library.read_text(), names))
    text = deck.read_text().replace(f'.include "{library.resolve()}"', f'.include "{(work / "lib.lib").resolve()}"')
    text = re.sub(r"\.tran (\S+) \S+ 0 (\S+) uic", lambda m: f".tran {m[1]} {seconds} 0 {m[2]} uic", text)
    text = re.sub(r"\.meas[^\n]*\n", "", text).replace(".end\n", ".options acct\n.end\n")
    for f in deck.parent.iterdir():
        if f.suffix == ".txt":
            (work / f.name).write_bytes(f.read_bytes())
    (work / "v.cir").write_text(text)
    before = children_cpu()
    done = subprocess.run(["ngspice", "-b", "-r", "out.raw", "v.cir"], cwd=work, capture_output=True, text=True)
    cpu = children_cpu() - before
    def acct(key: str) -> float:
        m = re.search(re.escape(key) + r"\s*=\s*([0-9.eE+-]+)", done.stdout + done.stderr)
        return float(m[1]) if m else float("nan")
    return {"cpu": cpu, "points": acct("Transient timepoints"), "iterations": acct("Transient iterations"),
            "equations": acct("Circuit Equations"), "load": acct("Transient load time")}


def profile(model: Path, decks: dict[str, Path], clip_dir: Path, seconds: float, work: Path) -> None:
    """Print :data:`VARIANTS`' costs for each deck (see the module docstring)."""
    print(f"{seconds:g} s of circuit time, first clip; {uptime()}")
    print("| deck | variant | CPU s | time points | Newton iterations | equations | matrix load s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for tag, deck in decks.items():
        captured = work / f"captured_{tag}"
        code = f"import sys; sys.path.insert(0, {str(work / 'pkg')!r})\n" if tag == "base" else ""
        subprocess.run([sys.executable, "-c", code + CAPTURE, str(captured), str(model), str(deck), "--signals",
                        str(clip_dir), "--no-ac", "--accuracy", "0.01", "--no-refine", "--workers", "1"], check=True)
        library = next(deck.glob("*.lib"))
        for k, (name, names) in enumerate(VARIANTS.items()):
            r = profile_deck(captured / "verify.cir", library, seconds, names, work / f"prof_{tag}{k}")
            print(f"| {tag} | {name} | {r['cpu']:.2f} | {r['points']:.0f} | {r['iterations']:.0f} | "
                  f"{r['equations']:.0f} | {r['load']:.2f} |", flush=True)


#: Element forms for ``--elements`` ({k}: the copy), on nets a, b (sines), c (0.3 × the first).
ELEMENTS = {
    "B I = c·tanh(V(a,b)/w) (the old quiescent current)": ["B{k} a{k} 0 I=1e-6*tanh(V(a{k},b{k})/0.05)"],
    "B I = c·tanh(V(a)/w) (one variable: the op-amp's gm, the comparator's decision)":
        ["B{k} a{k} 0 I=1e-6*tanh(V(a{k})/0.05)"],
    "B I = constant (bias currents)": ["B{k} a{k} 0 I=1e-13"],
    "B, the old gain-node clamp (two soft-max terms, 3 variables)":
        ["B{k} a{k} 0 I=0.001*((0.5*((V(a{k})-V(b{k})-0.2)+sqrt((V(a{k})-V(b{k})-0.2)*(V(a{k})-V(b{k})-0.2)+2.5e-05)))"
         "-(0.5*((0-0.2-V(a{k}))+sqrt((0-0.2-V(a{k}))*(0-0.2-V(a{k}))+2.5e-05))))"],
    "B, the old switch (conductance × tanh, 5 variables)":
        ["B{k} a{k} b{k} I=V(a{k},b{k})*(0.02*0.5*(1+tanh((V(c{k})-0.5*(V(b{k})+V(0)))/0.05))+3.030303e-10)"],
    "E (VCVS)": ["E{k} m{k} 0 a{k} b{k} 0.5", "Rm{k} m{k} 0 1meg"],
    "G (VCCS)": ["G{k} 0 m{k} a{k} b{k} 1e-3", "Rm{k} m{k} 0 1k"],
    "diode": ["D{k} a{k} b{k} dmod"],
    "S switch (ngspice SW model)": ["S{k} a{k} b{k} c{k} 0 swm"],
}
COPIES = 400


def element_cost(lines: list[str], work: Path) -> float:
    """CPU s of the ``--elements`` deck with ``lines`` per copy."""
    deck = ["* element cost", ".model dmod D(is=1e-14 n=1)", ".model swm sw(vt=0.1 vh=0 ron=50 roff=3.3e9)",
            "Vs s 0 sin(0 1 50)", "Vs2 s2 0 sin(0 0.7 37)"]
    for k in range(COPIES):
        deck += [f"Ra{k}x s a{k} 10k", f"Rb{k}x s2 b{k} 10k", f"Rbg{k}x b{k} 0 10k", f"Rag{k}x a{k} 0 10k",
                 f"Ec{k}x c{k} 0 s 0 0.3"] + [line.format(k=k) for line in lines]
    deck += [".options reltol=1e-3 abstol=1e-12 vntol=1e-6", ".tran 10u 50m 0 10u uic", ".end", ""]
    (work / "e.cir").write_text("\n".join(deck))
    before = children_cpu()
    subprocess.run(["ngspice", "-b", "-r", "e.raw", "e.cir"], cwd=work, capture_output=True, check=True)
    return children_cpu() - before


def elements() -> None:
    """Print :data:`ELEMENTS`' costs (module docstring)."""
    print(f"{COPIES} copies, 5000 steps; {uptime()}")
    print("| element | CPU ms per copy (5000 steps) |\n|---|---:|")
    with tempfile.TemporaryDirectory(prefix="r2nn-elements-") as tmp:
        base = element_cost([], Path(tmp))
        for name, lines in ELEMENTS.items():
            print(f"| {name} | {(element_cost(lines, Path(tmp)) - base) / COPIES * 1e3:.2f} |", flush=True)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "examples" / "tactile" / "micropower.r2nn")
    ap.add_argument("--demo", default="tactile", help="whose held-out clips")
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--base", default=BASE)
    ap.add_argument("--accuracy", type=float, default=0.01)
    ap.add_argument("--profile", type=float, default=None, metavar="SECONDS")
    ap.add_argument("--elements", action="store_true")
    ap.add_argument("--calibrate", action="store_true",
                    help="compile with --calibrate-signals on the split's training clips (the sums' scale)")
    args = ap.parse_args()
    if args.elements:
        return elements()
    with tempfile.TemporaryDirectory(prefix="r2nn-mpsim-") as tmp:
        work = Path(tmp)
        from run_demo import subset, write_clips
        from verify_heldout import write_heldout
        data, train_idx, _ = write_heldout(args.demo, work / "clips")
        extra = []
        if args.calibrate:
            write_clips(subset(data, train_idx), range(len(train_idx)), work / "train")
            extra = ["--calibrate-signals", str(work / "train")]
        decks = compile_both(args.model, args.base, work, extra)
        if args.profile:
            first = pick_clips(work / "clips", 1)[0]
            one = work / "profile_clip" / first.parent.name
            one.mkdir(parents=True)
            (one / first.name).write_bytes(first.read_bytes())
            profile(args.model, decks, one.parent, args.profile, work)
            return
        print(f"before: {uptime()}", flush=True)
        rows = run_all(args.model, decks, pick_clips(work / "clips", args.clips), args.accuracy, work)
        print(f"after: {uptime()}")
    print_table(rows, args.base)


def compile_both(model: Path, base: str, work: Path, extra: list[str]) -> dict[str, Path]:
    """The deck of ``model`` (compile arguments ``extra`` added) by the base revision's package
    and by the installed one."""
    decks = {}
    (work / "pkg").mkdir()
    for tag, package in (("base", export_base(base, (work / "pkg").resolve())), ("now", None)):
        out = work / f"deck_{tag}"
        done = r2nn(package, ["compile", str(model), "-o", str(out), "--readout", "analog", *extra])
        if done.returncode:
            raise SystemExit(f"compile with the {tag} package failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        decks[tag] = out
    return decks


def run_all(model: Path, decks: dict[str, Path], clips: list[Path], accuracy: float, work: Path
            ) -> list[tuple[str, ClipRun, ClipRun]]:
    """Each clip with the base deck, then with today's (side by side in time)."""
    rows = []
    for k, clip in enumerate(clips):
        one = work / f"clip{k}" / clip.parent.name
        one.mkdir(parents=True)
        (one / clip.name).write_bytes(clip.read_bytes())
        runs = [verify_clip(model, decks[tag], one.parent, accuracy, work / f"r{k}_{tag}.json") for tag in ("base", "now")]
        rows.append((f"{clip.parent.name}/{clip.stem}", *runs))
        print(f"  {rows[-1][0]}: {runs[0].cpu_s:.1f} s -> {runs[1].cpu_s:.1f} s (ngspice {runs[0].ngspice_s:.1f} s -> "
              f"{runs[1].ngspice_s:.1f} s)", flush=True)
    return rows


def print_table(rows: list[tuple[str, ClipRun, ClipRun]], base: str) -> None:
    print(f"\n| clip | verify CPU s, base {base} / now | ratio | of which ngspice, base / now | ratio | "
          "decision base / now (reference) | energy µJ base / now | largest score difference |")
    print("|---|---:|---:|---:|---:|---|---:|---:|")
    for name, b, n in rows:
        diff = max(abs(b.scores[c] - n.scores[c]) for c in b.scores)
        print(f"| {name} | {b.cpu_s:.1f} / {n.cpu_s:.1f} | {b.cpu_s / n.cpu_s:.2f} | {b.ngspice_s:.1f} / "
              f"{n.ngspice_s:.1f} | {b.ngspice_s / n.ngspice_s:.2f} | {b.circuit} / {n.circuit} ({b.reference}) | "
              f"{b.energy_j * 1e6:.4f} / {n.energy_j * 1e6:.4f} | {diff:.3g} |")
    tb, tn = sum(r[1].cpu_s for r in rows), sum(r[2].cpu_s for r in rows)
    sb, sn = sum(r[1].ngspice_s for r in rows), sum(r[2].ngspice_s for r in rows)
    same = sum(r[1].circuit == r[2].circuit for r in rows)
    print(f"| all {len(rows)} | {tb:.1f} / {tn:.1f} | {tb / tn:.2f} | {sb:.1f} / {sn:.1f} | {sb / sn:.2f} | "
          f"{same}/{len(rows)} the same | | |")


if __name__ == "__main__":
    main()
