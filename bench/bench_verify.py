"""Verification throughput: a naive hand-written deck vs the project's verifier, same models and signals.

Naive: what a user would write — the input as an inline PWL source, default ngspice options and
step (``.tran 1/fs T``), one ngspice process per signal, every node saved; and the same with the
step limited to Ts/20 (what the issue needed for ~0.3 % error). Ours: ``verify_deck`` on the exact
compile: filesource input, fixed step chosen from the accuracy target (``--accuracy``; the issue's
"equal accuracy" row uses the Ts/20 deck's measured worst NRMSE as the target), several signals
per ngspice run, runs on every core, only outputs saved. Everything is compared with the
reference model (NRMSE over the whole clip, the readout window spans it).

Models: ``--coupling all`` couples every pair of resonators by a damper (a quarter of them
negative), ``chain`` only neighbours; resonances 100 Hz–4 kHz, Q 3–30; white-noise clips.
Printed per size: signal-seconds per wall-second, per CPU-second (ngspice and worker processes:
robust when other jobs share the machine), worst NRMSE, and how many times faster ours (equal
accuracy) is than each row. Target: ≥ 10× the naive Ts/20 deck at equal or better accuracy.

``--ways`` adds an ablation on the first size, one change at a time from the naive Ts/20 deck.

``--targets`` measures issue #21's two rows instead, with ratios against the naive Ts/20 deck in
the same run: 16 all-coupled, 4 clips of 0.5 s at 16 kHz; 32 all-coupled, 64 clips of 1 s (the
naive deck's total is its per-clip time, measured on ``--naive-clips`` clips, times 64). Ours:
``verify_deck`` with ``--method auto`` (the CLI's default), ``superposition`` and (4 clips only)
``direct``, without the AC sweep (the naive deck has none); figures in docs/verify.md.

Usage: python bench/bench_verify.py            # quick: 8 all-coupled, 4 clips of 0.25 s (~2 min)
       python bench/bench_verify.py --targets  # issue #21's rows (~10 min on 2 cores)
       python bench/bench_verify.py --full     # the issue's case: 8 and 32 all-coupled, 1 s clips
       python bench/bench_verify.py --sizes 128 --coupling chain --signals 2 --seconds 1
       python bench/bench_verify.py --memory 10000  # peak RSS of superposition, 10,000 clips of 0.05 s
       python bench/bench_verify.py --hat1  # why the kernel runs sample 1's own hat over a window

Measured (ngspice 39 without KLU, 2 cores shared with other jobs, 4 clips of 1 s): ours at the
Ts/20 deck's accuracy is 20.7× faster in wall time (16× in CPU) for 8 all-coupled resonators,
but only 2.4–5.6× (2.3× CPU) for 32 all-coupled and 2.8× (1.6× CPU) for 128 in a chain: there
ngspice's own cost per step — two Newton iterations, each a load and a Sparse 1.3 LU (of a
dense 75-equation matrix for 32 all-coupled), and the truncation-error pass it makes even at
fixed steps — is the same in both decks, and the trapezoidal rule needs as many steps for the
same error. The naive deck loses mostly to PWL (about 100 µs per step with 16 000 points,
growing with the clip) and to running on one core. Ways in, one at a time (8 all-coupled, CPU
signal-s/s): PWL → filesource 0.027 → 0.31; only outputs saved 0.36; fixed step for the target
(Ts/22 here, where the old Ts/100 rule took 4.5× the steps) 0.31; 4 signals per run 0.46
(ngspice's ~4 µs per-step overhead shared); all cores (two runs of two) 0.37 CPU, but 0.46 →
0.56 in wall time. Not the default: the in-process library (``--engine shared``, 0.31, no faster
than a process per run). Not kept: back-to-back segments in one copy (they share the process
start, 15–20 ms, not the per-step overhead that copies share); KLU (not compiled into this
ngspice; ``.options klu`` is silently ignored); ``.options interp`` (its raw file did not read
back; the verifier resamples at the sample times itself); gear (ngspice never raises its order
past 2, and order-2 gear has a larger error constant than the trapezoidal rule).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.compiler import compile_model  # noqa: E402
from r2nn_compiler.executor import LocalExecutor  # noqa: E402
from r2nn_compiler.model import Coupling, Input, Model, Output, Readout, Resonator  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.sim import NgspiceBatch  # noqa: E402
from r2nn_compiler.verify import read_compiled, verify_deck  # noqa: E402
from r2nn_compiler.verify.metrics import nrmse  # noqa: E402


def coupled_model(n: int, coupling: str, seconds: float, seed: int = 0) -> Model:
    """``n`` resonators (100 Hz–4 kHz, Q 3–30), dampers between every pair (``all``) or between
    neighbours (``chain``), one input driving all, three outputs; readout over ``seconds``."""
    from r2nn_compiler.reference import stability_margin

    while True:
        rng = np.random.default_rng(seed)
        names = [f"r{i}" for i in range(n)]
        mass = rng.uniform(1e-4, 1e-2, n)
        w0 = 2 * np.pi * np.exp(rng.uniform(np.log(100.0), np.log(4000.0), n))
        q = rng.uniform(3, 30, n)
        res = tuple(Resonator(names[i], mass[i], mass[i] * w0[i] ** 2, mass[i] * w0[i] / q[i]) for i in range(n))
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if coupling == "all" or j == i + 1]
        share = 8.0 / max(8, n) if coupling == "all" else 1.0  # keeps the sum of couplings per node bounded
        couplings = tuple(
            Coupling(names[i], names[j], "damper", 0.3 * share * min(res[i].damping, res[j].damping)
                     * rng.uniform(0.1, 1) * (-1 if rng.random() < 0.25 else 1)) for i, j in pairs)
        inputs = (Input("u", tuple((r, float(rng.uniform(-1, 1))) for r in names)),)
        outputs = tuple(Output(f"c{k}", names[i]) for k, i in enumerate(rng.choice(n, min(3, n), replace=False)))
        model = Model(f"{coupling}{n}", res, couplings, inputs, outputs, Readout("rms", 0.0, seconds),
                      band=(100.0, 4000.0))
        if stability_margin(model)[0] > 5.0:
            return model
        seed += 1000


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (ngspice, worker processes)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def naive(outdir: Path, manifest: dict, signal: Signal, steps_per_sample: int | None = None, source: str = "pwl",
          save_outputs: bool = False) -> np.ndarray:
    """One hand-written deck per signal: PWL input, default options and step control (or a
    step limit of ``1/(fs·steps_per_sample)``, what a careful user adds to get accuracy), every
    node saved. ``source="file"`` reads the input with an XSPICE filesource instead and
    ``save_outputs`` saves only the outputs (for the ablation). Returns the outputs (V)."""
    t = np.arange(signal.data.shape[1]) / signal.rate_hz
    outs = [o["port"] for o in manifest["outputs"]]
    with tempfile.TemporaryDirectory() as tmp:
        if source == "pwl":
            stimulus = [f"Vin in1 0 PWL({' '.join(f'{ti:.9g} {ui:.9g}' for ti, ui in zip(t, signal.data[0]))})"]
        else:
            np.savetxt(Path(tmp) / "in.txt", np.column_stack([t, signal.data[0]]), fmt="%.9g")
            stimulus = ["a1 %vd([in1 0]) src", '.model src filesource (file="in.txt" amploffset=[0] amplscale=[1] '
                        "timeoffset=0 timescale=1 timerelative=false amplstep=false)"]
        deck = "\n".join([
            "* naive testbench", f".include {outdir / manifest['library']}", *stimulus,
            f"X1 in1 {' '.join(outs)} {manifest['subckt']}",
            *([".save " + " ".join(f"v({o})" for o in outs)] if save_outputs else []),
            f".tran {1 / signal.rate_hz:.9g} {t[-1]:.9g}"
            + (f" 0 {1 / (signal.rate_hz * steps_per_sample):.9g}" if steps_per_sample else "") + " uic", ".end"])
        plot = NgspiceBatch().run_text(deck, tmp).plot("tran")
    time_c = np.real(plot.get("time"))
    return np.stack([np.interp(t, time_c, np.real(plot.get(f"v({o})"))) for o in outs])


class Row:
    """One measured way of simulating all signals: wall and CPU seconds, worst NRMSE."""

    def __init__(self, label: str, run, score):
        cpu, start = _cpu_s(), time.perf_counter()
        self.result = run()
        self.wall_s, self.cpu_s = time.perf_counter() - start, _cpu_s() - cpu
        self.error = score(self.result)
        self.label = label


def naive_row(label, model, out, manifest, signals, steps, **options) -> Row:
    refs = [reference.simulate(model, s.data, s.rate_hz) for s in signals]  # not part of the deck's cost
    return Row(label, lambda: [naive(out, manifest, s, steps, **options) for s in signals],
               lambda ys: max(float(np.max(nrmse(y, r))) for y, r in zip(ys, refs)))


def ours_row(label, model, compiled, signals, accuracy, workers=None, per_run=8, engine="batch",
             method="direct") -> Row:
    row = Row(label, lambda: verify_deck(model, compiled, signals, run_ac=False, accuracy=accuracy, per_run=per_run,
                                         engine=engine, executor=LocalExecutor(workers), method=method,
                                         refine_close=False),  # the same steps as the naive deck's
              lambda report: report.worst_nrmse)
    steps = sorted({round(1 / (s.rate_hz * r.step_s)) for s, r in zip(signals, row.result.signals)})
    row.label += f" [Ts/{'/'.join(map(str, steps))}]"
    return row


def print_rows(size: int, rows: list[Row], total_s: float, ours: Row) -> None:
    for r in rows:
        cpu = f"{total_s / r.cpu_s:>9.3f}" if r.cpu_s > 0 else f"{'-':>9}"
        print(f"{size:>4} {r.label:<52}{total_s / r.wall_s:>9.3f} {cpu} {r.error:>10.2e} "
              f"{r.wall_s / ours.wall_s:>7.2f}x {r.cpu_s / ours.cpu_s if ours.cpu_s else 0:>7.2f}x", flush=True)


def target_rows(size: int, clips: int, seconds: float, rate: float, naive_clips: int, direct: bool) -> None:
    """Issue #21's row for ``size`` all-coupled resonators and ``clips`` white-noise clips:
    the naive Ts/20 deck per clip (measured on ``naive_clips``, scaled to all), ours by method."""
    rng = np.random.default_rng(0)
    n = int(seconds * rate) + 1
    signals = [Signal(rng.standard_normal((1, n)), rate, f"s{i}") for i in range(clips)]
    model = coupled_model(size, "all", seconds)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "deck"
        compile_model(model, out, exact=True)
        compiled = read_compiled(out)
        careful = naive_row("naive: PWL, step Ts/20, 1 process/clip", model, out, compiled.manifest,
                            signals[:naive_clips], 20)
        scale = clips / naive_clips
        careful.wall_s, careful.cpu_s = careful.wall_s * scale, careful.cpu_s * scale
        careful.label += f" (x{scale:g} of {naive_clips})" if scale != 1 else ""
        rows = [careful]
        for method in ("superposition", "auto") + (("direct",) if direct else ()):
            row = Row(f"ours: r2nn verify --method {method} (no AC)", lambda m=method: verify_deck(
                model, compiled, signals, run_ac=False, method=m), lambda report: report.worst_nrmse)
            used = row.result.method
            row.label += f" [{used.used}" + (f", kernel {used.kernels[0].kernel_s:.3g} s"
                                             + (" cached" if used.kernels[0].cached else "") + ", spot diff "
                                             f"{used.spot[0].difference:.1e}" if used.spot else "") + "]"
            rows.append(row)
        total = clips * seconds
        print(f"{size} all-coupled, {clips} clips of {seconds:g} s at {rate:g} Hz")
        for r in rows:
            print(f"{size:>4} {r.label:<88}{r.wall_s:>8.1f} s {total / r.wall_s:>8.3f} {r.error:>10.2e} "
                  f"naive/this {careful.wall_s / r.wall_s:>7.1f}x (cpu {careful.cpu_s / max(r.cpu_s, 1e-9):.1f}x)",
                  flush=True)


def targets(args) -> None:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; columns: wall s, "
          f"signal-s per wall-s, worst NRMSE, naive deck's time / this one's")
    target_rows(16, 4, 0.5, args.rate, 4, direct=True)
    target_rows(32, 64, 1.0, args.rate, args.naive_clips, direct=False)


def memory(clips: int, seconds: float, rate: float) -> None:
    """Peak resident memory of ``verify_deck --method superposition`` (8 all-coupled, exact
    deck, kernel built in this process) on ``clips`` white-noise clips of ``seconds``: run once
    per process, so the peak is this verification's (plus Python, numpy and the clips)."""
    n = int(seconds * rate) + 1
    rng = np.random.default_rng(0)
    signals = [Signal(rng.standard_normal((1, n)), rate, f"s{i}") for i in range(clips)]
    model = coupled_model(8, "all", seconds)
    with tempfile.TemporaryDirectory() as tmp:
        compile_model(model, Path(tmp) / "deck", exact=True)
        start = time.perf_counter()
        report = verify_deck(model, read_compiled(Path(tmp) / "deck"), signals, run_ac=False, method="superposition")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{clips} clips of {seconds:g} s at {rate:g} Hz: {time.perf_counter() - start:.1f} s wall, "
          f"method {report.method.used}, kernel {report.method.kernels[0].samples} samples, passed {report.passed}, "
          f"peak RSS {peak_mb:.0f} MB (load average {os.getloadavg()[0]:.1f})")


def hat1(seconds: float, rate: float) -> None:
    """How far sample 1's own hat response (it shares ngspice's first steps) is from the regular
    hat's, shifted: max |difference| / the regular response's peak over sample ranges, for the
    16 all-coupled model (``seconds`` clips) and random decks of ``tests/strategies.py`` (400
    samples, accuracy 1e-4). Why the kernel runs sample 1's own over a window: docs/verify.md."""
    from dataclasses import replace

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from strategies import random_stable_model

    from r2nn_compiler.verify import superposition
    from r2nn_compiler.verify.circuit import CircuitUnderTest
    from r2nn_compiler.verify.run import PortScaling, model_in_circuit_units
    from r2nn_compiler.verify.transient_run import TransientRun, run_step

    cases = [("16 all-coupled, exact", coupled_model(16, "all", seconds), True, int(seconds * rate), 1e-3)]
    cases += [(f"random seed {s}, {'exact' if e else 'hardware'}", random_stable_model(s), e, 400, 1e-4)
              for s, e in ((0, True), (2, True), (5, False))]
    print("deck, steps per sample: max |own − shifted| / peak over samples 0–9, 10–99, 100–999, ≥ 1000")
    for label, model, exact, samples, accuracy in cases:
        with tempfile.TemporaryDirectory() as tmp:
            compile_model(model, Path(tmp) / "o", exact=exact)
            compiled = read_compiled(Path(tmp) / "o")
            system = (model_in_circuit_units(model, compiled) if exact
                      else CircuitUnderTest.from_compiled(compiled).state_space())
            scaling = PortScaling.of(compiled)
            base = TransientRun.settings(model, compiled, system, accuracy, "batch", 600.0)
            u = np.random.default_rng(0).standard_normal((1, 1, samples + 1))
            base = base.with_inputs(np.repeat(u, len(model.inputs), 1) * scaling.in_gain[None, :, None],
                                    scaling.time_scale / rate)
            k, _ = run_step(base)
            old = superposition.HAT1_WHOLE_BELOW
            superposition.HAT1_WHOLE_BELOW = samples  # sample 1's own over the whole kernel
            kernel = superposition.build_kernel(replace(base, inputs=base.inputs[:0], substeps=k), k, samples,
                                                LocalExecutor())
            superposition.HAT1_WHOLE_BELOW = old
        g = kernel.outputs
        diff = np.max(np.abs(g[:, 1, :, :-1] - g[:, 2, :, 1:]), axis=(0, 1)) / np.max(np.abs(g[:, 2]))
        parts = [f"{np.max(diff[a:b]):.1e}" if a < diff.size else "-" for a, b in ((0, 10), (10, 100), (100, 1000),
                                                                                (1000, diff.size))]
        print(f"{label}, Ts/{k}: {', '.join(parts)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", action="store_true", help="issue #21's rows (16 and 32 all-coupled)")
    ap.add_argument("--naive-clips", type=int, default=2, help="--targets: clips the naive deck runs at 64 clips")
    ap.add_argument("--full", action="store_true", help="the issue's case: sizes 8,32, 1 s clips")
    ap.add_argument("--signals", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=None, help="clip length (default 0.25 s, --full 1 s)")
    ap.add_argument("--rate", type=float, default=16_000.0)
    ap.add_argument("--sizes", default=None, help="comma-separated resonator counts (default 8, --full 8,32)")
    ap.add_argument("--coupling", choices=["all", "chain"], default="all")
    ap.add_argument("--accuracy", type=float, default=None,
                    help="ours' target NRMSE (default: the naive Ts/20 deck's measured worst NRMSE)")
    ap.add_argument("--ways", action="store_true", help="ablation of each way in, on the first size")
    ap.add_argument("--memory", type=int, default=None, metavar="CLIPS",
                    help="peak RSS of superposition on CLIPS clips of --seconds (default 0.05 s) and exit")
    ap.add_argument("--hat1", action="store_true", help="sample 1's own hat response vs the shifted regular one")
    args = ap.parse_args()
    if args.hat1:
        return hat1(args.seconds or 0.5, args.rate)
    if args.targets:
        return targets(args)
    if args.memory:
        return memory(args.memory, args.seconds or 0.05, args.rate)
    seconds = args.seconds or (1.0 if args.full else 0.25)
    sizes = [int(s) for s in (args.sizes or ("8,32" if args.full else "8")).split(",")]
    rng = np.random.default_rng(0)
    n = int(seconds * args.rate) + 1
    signals = [Signal(rng.standard_normal((1, n)), args.rate, f"s{i}") for i in range(args.signals)]
    total = args.signals * seconds
    print(f"{args.signals} white-noise clips of {seconds:g} s at {args.rate:g} Hz, {args.coupling}-coupled resonators; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"{'N':>4} {'deck':<52}{'sig-s/s':>9} {'sig-s/cpu':>9} {'worst NRMSE':>10} {'ours is faster':>16}")
    print(f"{'':>4} {'':<52}{'(wall)':>9} {'-s':>9} {'':>10} {'(wall)':>8} {'(cpu)':>8}")
    for index, size in enumerate(sizes):
        model = coupled_model(size, args.coupling, seconds)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "deck"
            compile_model(model, out, exact=True)
            compiled = read_compiled(out)
            m = compiled.manifest
            careful = naive_row("naive: PWL, step Ts/20, 1 process/signal", model, out, m, signals, 20)
            default = naive_row("naive: PWL, default step", model, out, m, signals, None)
            accuracy = args.accuracy or careful.error
            ours = ours_row(f"ours: r2nn verify --accuracy {accuracy:.2g}", model, compiled, signals, accuracy)
            tight = ours_row("ours: r2nn verify (default accuracy 1e-3)", model, compiled, signals, 1e-3)
            superposed = ours_row("ours: --method superposition, accuracy 1e-3", model, compiled, signals, 1e-3,
                                  method="superposition")
            rows = [careful, default, ours, tight, superposed]
            if args.ways and index == 0:
                rows += [
                    naive_row("ways: filesource, step Ts/20", model, out, m, signals, 20, source="file"),
                    naive_row("ways: + only outputs saved", model, out, m, signals, 20, source="file",
                              save_outputs=True),
                    ours_row("ways: + fixed step for the target, 1/run, 1 worker", model, compiled, signals,
                             accuracy, workers=1, per_run=1),
                    ours_row(f"ways: + {min(8, args.signals)} signals/run, 1 worker", model, compiled, signals,
                             accuracy, workers=1),
                    ours_row("ways: + all cores (= ours)", model, compiled, signals, accuracy),
                    ours_row("ways: in-process library, all cores", model, compiled, signals, accuracy,
                             engine="shared"),
                ]
        print_rows(size, rows, total, ours)


if __name__ == "__main__":
    main()
