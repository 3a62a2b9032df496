"""The ``r2nn`` command line. Thin: parse options, call the API, print, exit.

Exit codes: 0 ok, 1 bad input or model (or a failed verification), 2 usage, 3 internal error
(a bug: please report it; set R2NN_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import functools
import json
import os
import sys

import click
import numpy as np

from . import __version__, compiler, reference
from .errors import R2nnError
from .model.ir import READOUT_KINDS
from .units import format_si, parse_quantity


def _fail(message: str, code: int) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(code)


def handles_errors(func):
    """Turn every R2nnError into its one line on stderr and its exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except R2nnError as exc:
            for problem in getattr(exc, "all", None) or [exc]:
                click.echo(problem.one_line(), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except click.ClickException:
            raise  # a bad option value found inside the command: click prints it, exit 2
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("R2NN_DEBUG"):
                raise
            _fail(f"internal error (please report; R2NN_DEBUG=1 shows the traceback): {type(exc).__name__}: {exc}", 3)

    return wrapper


def _parse_band(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition(":")
    try:
        band = (float(lo), float(hi))
    except ValueError:
        band = None
    if not sep or band is None or not 0 < band[0] < band[1]:
        raise click.UsageError(f"--band-hz: expected LO:HI in Hz with 0 < LO < HI, got {text!r}")
    return band


def _warn_if_nearly_unstable(model) -> None:
    warning = reference.stability_warning(model)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def _list_passes(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .passes import REGISTRY

    for name, cls in sorted(REGISTRY.items()):
        first = (cls.__module__ and sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        click.echo(f"{name:<22}{first}")
    ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="r2nn")
def main() -> None:
    """r2nn: compile resonant recurrent neural networks into verified analog circuits."""


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_errors
def check(model_path: str, as_json: bool) -> None:
    """Validate MODEL and summarise it (resonators, couplings, inputs, outputs, stability)."""
    model = compiler.load_model(model_path)
    _warn_if_nearly_unstable(model)
    margin, pole = reference.stability_margin(model)
    summary = {
        "name": model.name,
        "analogy": model.analogy,
        "band_hz": list(model.band) if model.band else None,
        "resonators": [{"name": r.name, "f0_hz": r.f0_hz, "q": r.q if np.isfinite(r.q) else None, "mass": r.mass, "stiffness": r.stiffness,
                        "damping": r.damping} for r in model.resonators],
        "couplings": [{"between": [c.a, c.b], "kind": c.kind, "value": c.value} for c in model.couplings],
        "inputs": [{"name": i.name, "drives": dict(i.drives)} for i in model.inputs],
        "outputs": [{"class": o.cls, "node": o.node, "weight": o.weight} for o in model.outputs],
        "readout": {"kind": model.readout.kind, "start": model.readout.start, "stop": model.readout.stop},
        "stability_margin_per_s": margin,
        "slowest_pole": [pole.real, pole.imag],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=1))
        return
    click.echo(f"model {model.name}: {len(model.resonators)} resonators, {len(model.couplings)} couplings, "
               f"{len(model.inputs)} input(s), {len(model.outputs)} classes, analogy {model.analogy}")
    if model.band:
        click.echo(f"band {format_si(model.band[0], 'Hz')} .. {format_si(model.band[1], 'Hz')}")
    click.echo(f"{'resonator':<16}{'f0':>12}{'Q':>10}{'m (kg)':>12}{'k (N/m)':>12}{'c (N·s/m)':>12}")
    for r in model.resonators:
        click.echo(f"{r.name:<16}{format_si(r.f0_hz, 'Hz'):>12}{r.q:>10.4g}{r.mass:>12.4g}{r.stiffness:>12.4g}"
                   f"{r.damping:>12.4g}")
    for c in model.couplings:
        click.echo(f"couple {c.a} -- {c.b} {c.kind} {c.value:.6g}")
    for i in model.inputs:
        click.echo(f"input {i.name} -> " + ", ".join(f"{n} ({w:.6g})" for n, w in i.drives))
    for o in model.outputs:
        click.echo(f"output {o.cls} = {o.node} (weight {o.weight:.6g})")
    click.echo(f"readout {model.readout.kind} from {model.readout.start:g} s to {model.readout.stop:g} s")
    click.echo(f"stable: slowest pole decays at {margin:.6g} 1/s (time constant {1 / margin:.4g} s) "
               f"at {abs(pole.imag) / (2 * np.pi):.6g} Hz")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False),
              help="OUT.json or OUT.r2nn")
@handles_errors
def convert(model_path: str, out_path: str) -> None:
    """Convert MODEL between .r2nn text, r2nn-model/1 JSON (and from .npz)."""
    compiler.save_model(compiler.load_model(model_path), out_path)
    click.echo(f"wrote {out_path}")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("signal_path", metavar="SIGNAL", type=click.Path(dir_okay=False))
@click.option("--rate", type=float, default=None, help="Sample rate in Hz (CSV and .npy signals).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Save a waveform plot (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print {features, predicted} as JSON.")
@handles_errors
def simulate(model_path: str, signal_path: str, rate: float | None, plot_path: str | None, as_json: bool) -> None:
    """Run the reference model on SIGNAL (.wav, .csv or .npy): features and predicted class."""
    model = compiler.load_model(model_path)
    result = compiler.simulate(model, signal_path, rate)
    if plot_path:
        from .plots import plot_waveforms

        plot_waveforms(result, plot_path)
    if as_json:
        click.echo(json.dumps({"features": result.feature_map(), "predicted": result.predicted}, indent=1))
        return
    for cls, value in result.feature_map().items():
        mark = "  <- predicted" if cls == result.predicted else ""
        click.echo(f"{cls:<16}{value:.6e}{mark}")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--fmin", type=float, default=None, help="Lowest frequency in Hz (default: band or f0/3).")
@click.option("--fmax", type=float, default=None, help="Highest frequency in Hz (default: band or 3·f0).")
@click.option("--points", type=click.IntRange(2, 100000), default=400, show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Save a Bode plot (PNG).")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
@handles_errors
def response(model_path: str, fmin: float | None, fmax: float | None, points: int, plot_path: str | None,
             as_json: bool) -> None:
    """Frequency response of every output to every input (reference model)."""
    model = compiler.load_model(model_path)
    grid = reference.default_grid(model, points)
    lo, hi = fmin or grid[0], fmax or grid[-1]
    if not 0 < lo < hi:
        raise click.UsageError(f"expected 0 < --fmin < --fmax, got {lo:g} and {hi:g}")
    freqs = np.geomspace(lo, hi, points)
    h = reference.frequency_response(model, freqs)
    if plot_path:
        from .plots import plot_bode

        plot_bode(model, freqs, h, plot_path)
    if as_json:
        click.echo(json.dumps({
            "freqs_hz": freqs.tolist(),
            "responses": [{"class": o.cls, "input": i.name, "magnitude": np.abs(h[j, k]).tolist(),
                           "phase_deg": np.degrees(np.angle(h[j, k])).tolist()}
                          for j, o in enumerate(model.outputs) for k, i in enumerate(model.inputs)],
        }))
        return
    click.echo(f"{'class':<16}{'input':<10}{'peak at':>12}{'peak |H|':>14}")
    for j, o in enumerate(model.outputs):
        for k, i in enumerate(model.inputs):
            mag = np.abs(h[j, k])
            p = int(np.argmax(mag))
            click.echo(f"{o.cls:<16}{i.name:<10}{format_si(freqs[p], 'Hz'):>12}{mag[p]:>14.6g}")


@main.command(name="compile")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False),
              help="Output directory (replaced atomically).")
@click.option("--exact", is_flag=True, help="Ideal elements, no scaling or quantisation: port voltages = velocities.")
@click.option("--band-hz", "band_text", default=None, metavar="LO:HI",
              help="Circuit band in Hz the model's band is mapped to (default: keep the model's).")
@click.option("--series", "series_text", default=None, metavar="KIND=SERIES,...",
              help="E-series per kind, e.g. R=E96,C=E24,L=E12 (the default); or DESIGNATOR=SERIES overrides.")
@click.option("--strategy", type=click.Choice(["nearest", "pair", "retune"]), default="retune", show_default=True,
              help="Quantisation strategy.")
@click.option("--pair-target", type=float, default=1e-3, show_default=True,
              help="Relative error a series/parallel pair must reach (strategy pair).")
@click.option("--opamp", type=click.Choice(["macro", "ideal"]), default="macro", show_default=True,
              help="Op-amp model for active parts.")
@click.option("--gbw-hz", type=float, default=None, help="Op-amp gain-bandwidth product (macro model).")
@click.option("--opamp-param", "opamp_param_text", multiple=True, metavar="KNOB=VALUE",
              help="Op-amp macromodel knob (repeatable): a0, gbw_hz, r_out_ohm, swing_v, offset_v, quiescent_a, "
                   "supply_v; e.g. --opamp-param quiescent_a=60u --opamp-param supply_v=1.65.")
@click.option("--single-inductors", is_flag=True,
              help="One inductor per spring (no series trim inductor); f0 is then restored by the capacitor alone.")
@click.option("--parasitics", is_flag=True, help="Model inductor loss (--inductor-q) and capacitor ESR, compensated.")
@click.option("--inductor-q", type=float, default=50.0, show_default=True)
@click.option("--inductors", type=click.Choice(["passive", "gic"]), default="passive", show_default=True,
              help="Spring inductors as wound parts (passive) or as Antoniou GICs: two op-amps, four resistors "
                   "and a capacitor each (gic; grounded springs only, needs the hardware flow).")
@click.option("--readout", type=click.Choice(["none", "analog", "behavioural"]), default="none", show_default=True,
              help="On-circuit readout: output buffers (weights as gains), mean-square detectors over the readout "
                   "window and a winner-take-all driving one decision port per class; analog: from parts "
                   "(op-amps, 1N4148, 2N3904, E96), behavioural: B-sources for fast checks.")
@click.option("--no-calibrate", is_flag=True,
              help="Keep each output's gain as its parts give it, without trimming it to the model's level "
                   "(calibrate_outputs).")
@click.option("--calibrate-signals", "calibration_paths", multiple=True, type=click.Path(), metavar="FILE|DIR",
              help="Trim the output gains on these signals (e.g. training clips; repeatable) instead of on the "
                   "model's band power: each output's features then match the model's on them.")
@click.option("--rate", type=float, default=None, help="Sample rate in Hz of .csv/.npy calibration signals.")
@click.option("--flow", "flow_text", default=None,
              help="Comma-separated pass names to run instead of the default flow (see --list-passes).")
@click.option("--list-passes", is_flag=True, is_eager=True, expose_value=False, callback=_list_passes,
              help="List the registered passes and exit.")
@handles_errors
def compile_cmd(model_path: str, outdir: str, exact: bool, band_text, series_text, strategy, pair_target, opamp,
                gbw_hz, opamp_param_text, single_inductors, parasitics, inductor_q, inductors, flow_text: str | None,
                readout: str = "none", no_calibrate: bool = False, calibration_paths: tuple[str, ...] = (),
                rate: float | None = None) -> None:
    """Compile MODEL into an ngspice deck, manifest.json and bom.csv in OUTDIR."""
    from .passes import CompileOptions

    model = compiler.load_model(model_path)
    _warn_if_nearly_unstable(model)
    flow = [p.strip() for p in flow_text.split(",") if p.strip()] if flow_text is not None else None
    if exact and inductors != "passive":
        from .errors import UsageError

        raise UsageError("--inductors gic builds parts and op-amps: it needs the hardware flow, not --exact")
    options = CompileOptions(exact=exact, strategy=strategy, pair_target=pair_target, opamp=opamp,
                             parasitics=parasitics, inductor_q=inductor_q, inductors=inductors, readout=readout,
                             calibrate=not no_calibrate)
    if band_text is not None:
        options.band_hz = _parse_band(band_text)
    if series_text is not None:
        for item in filter(None, (x.strip() for x in series_text.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not value.strip():
                raise click.UsageError(f"--series: expected KIND=SERIES (e.g. R=E96), got {item!r}")
            target = options.series if key.strip().upper() in ("R", "L", "C") else options.series_overrides
            target[key.strip().upper() if target is options.series else key.strip()] = value.strip().upper()
    if gbw_hz is not None:
        options.opamp_params["gbw_hz"] = gbw_hz
    for item in opamp_param_text:
        knob, sep, value = item.partition("=")
        try:
            options.opamp_params[knob.strip()] = parse_quantity(value).value if sep else None
        except ValueError:
            sep = ""
        if not sep or options.opamp_params[knob.strip()] is None:
            raise click.UsageError(f"--opamp-param: expected KNOB=VALUE (e.g. quiescent_a=60u), got {item!r}")
    options.pair_inductors = not single_inductors
    if calibration_paths:
        if no_calibrate:
            raise click.UsageError("--calibrate-signals and --no-calibrate contradict each other")
        options.calibration_signals = compiler.load_signals(model, list(calibration_paths), rate)
    result = compiler.compile_model(model, outdir, flow=flow, options=options)
    for entry in result.log:
        click.echo(f"  {entry.name:<20}{entry.summary}")
    counts = result.manifest["component_counts"]
    if result.manifest.get("energy"):
        from .energy import EnergyEstimate

        click.echo(f"  {'energy':<20}{EnergyEstimate(**result.manifest['energy']).summary()}")
    click.echo(f"wrote {outdir}: {', '.join(sorted(result.files))} "
               f"({result.manifest['total_components']} components: "
               + ", ".join(f"{v} {k}" for k, v in counts.items()) + ")")


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.argument("more_signals", nargs=-1, metavar="[SIGNAL...]", type=click.Path())
@click.option("--signals", "signal_paths", multiple=True, type=click.Path(),
              help="Signal file or directory of signal files (repeatable; further SIGNALs may follow).")
@click.option("--rate", type=float, default=None, help="Sample rate in Hz for .csv/.npy signals.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the report as JSON.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False),
              help="Write waveform and Bode overlays here (and decisions.png, the detectors and decision ports "
                   "over time, for a deck with an on-circuit readout).")
@click.option("--nrmse", "nrmse_tol", type=float, default=0.005, show_default=True,
              help="Largest NRMSE allowed on any output (exact decks: against the reference model; "
                   "hardware decks: against the deck's own circuit).")
@click.option("--min-agreement", type=click.FloatRange(0, 1), default=0.99, show_default=True,
              help="Hardware decks: smallest fraction of signals whose class must agree with the reference.")
@click.option("--engine", type=click.Choice(["batch", "shared"]), default="batch", show_default=True,
              help="ngspice as a subprocess (batch) or in-process library (shared).")
@click.option("--no-ac", is_flag=True, help="Skip the AC comparison.")
@click.option("--timeout", "timeout_s", type=float, default=600.0, show_default=True,
              help="Seconds allowed per ngspice run.")
@click.option("--trust-deck", is_flag=True,
              help="Simulate the library even if it has .control, shell or .include outside OUTDIR.")
@click.option("--accuracy", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Target NRMSE of ngspice's time integration: the fixed step is the longest whose predicted "
                   "error on every signal and output stays below it (default: a fifth of --nrmse).")
@click.option("--no-refine", is_flag=True,
              help="Hardware decks: do not simulate again, at finer accuracies (down to 1e-4), the signals whose "
                   "winning margin is within four times ngspice's own error in the features.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Local worker processes running ngspice (default: all cores).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the simulations on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786).")
@handles_errors
def verify(model_path, outdir, more_signals, signal_paths, rate, json_path, plot_dir, nrmse_tol, min_agreement,
           engine, no_ac, timeout_s, trust_deck, accuracy, no_refine, workers, scheduler) -> None:
    """Simulate the compiled deck in OUTDIR with ngspice and compare it with the reference model.

    Exit 0 only if every output's NRMSE, every class decision and the AC response are within
    tolerance."""
    from .verify import Tolerances

    model = compiler.load_model(model_path)
    paths = list(signal_paths) + list(more_signals)
    report = compiler.verify(model, outdir, paths, rate_hz=rate, engine=engine, run_ac=not no_ac,
                             tolerances=Tolerances(nrmse=nrmse_tol, min_agreement=min_agreement), timeout_s=timeout_s, progress=True,
                             trust_deck=trust_deck, accuracy=accuracy, workers=workers, scheduler=scheduler,
                             refine=not no_refine)
    if json_path:
        from .fileutil import write_text_atomic

        write_text_atomic(json_path, json.dumps(report.to_json(), indent=1) + "\n")
    if plot_dir:
        from .verify.plots import write_plots

        write_plots(model, report, plot_dir)
    _print_report(report)
    sys.exit(0 if report.passed else 1)


def _print_report(report) -> None:
    if report.signals:
        extra = "" if report.exact else f"{'vs circuit':>12}"
        width = max([12] + [len(c) + 2 for s in report.signals for c in (s.reference_class, s.circuit_class)])
        click.echo(f"{'signal':<32}{'NRMSE':>12}{extra}  {'reference':<{width}}{'circuit':<{width}}agree")
        for s in report.signals:
            name = s.path if len(s.path) <= 31 else "..." + s.path[-28:]
            vs = "" if report.exact else f"{max(s.nrmse_vs_circuit.values()):>12.3e}"
            click.echo(f"{name:<32}{s.worst_nrmse:>12.3e}{vs}  {s.reference_class:<{width}}{s.circuit_class:<{width}}"
                       f"{'yes' if s.agree else 'NO'}")
    for a in report.ac:
        e = a.errors
        vs = "" if a.circuit_errors is None else (f"; against the deck's circuit {a.circuit_errors['peak_freq_error']:.2e}"
                                                  f" and {a.circuit_errors['peak_mag_error']:.2e}")
        click.echo(f"AC {a.cls} <- {a.input}: peak {format_si(e['peak_hz_circuit'], 'Hz')} "
                   f"(reference {format_si(e['peak_hz_reference'], 'Hz')}), peak freq error {e['peak_freq_error']:.2e}, "
                   f"peak |H| error {e['peak_mag_error']:.2e}{vs}")
    refined = report.refined
    if refined:
        click.echo(f"{len(refined)} signal(s) simulated again at a finer accuracy (down to "
                   f"{min(s.accuracy for s in refined):.3g}): their margin was within ngspice's own error")
    _print_decisions(report.decisions)
    for f in report.failures():
        click.echo(f"FAIL {f}", err=True)
    verdict = "PASS" if report.passed else "FAIL"
    if report.exact:
        figure = f"worst NRMSE {report.worst_nrmse:.3e} (limit {report.tolerances.nrmse:g})"
    else:
        figure = (f"worst NRMSE vs the deck's circuit {report.worst_nrmse_vs_circuit or 0:.3e} "
                  f"(limit {report.tolerances.nrmse:g}), vs the model {report.worst_nrmse:.3e}")
    click.echo(f"{verdict}: {len(report.signals)} signals, class agreement {100 * report.class_agreement:.1f} %, "
               f"{figure}, {report.elapsed_s:.1f} s with ngspice ({report.engine})")


def _print_decisions(figures: dict) -> None:
    """The on-circuit readout's figures (decks compiled with --readout), if any."""
    if not figures:
        return

    def pct(value) -> str:
        return "n/a" if value is None else f"{100 * value:.3g} %"

    click.echo(f"decision ports agree with the reference on {100 * figures['agreement']:.1f} % of "
               f"{figures['signals']} signals; smallest winning margin {pct(figures['smallest_margin'])} "
               f"({figures['smallest_margin_signal']}) against a detector error of "
               f"{pct(figures['detector_error_there'])} and a feature error of {pct(figures['feature_error_there'])} "
               f"there (worst: detector {pct(figures['worst_detector_error'])}, "
               f"feature {pct(figures['worst_feature_error'])})"
               + (f"; there the network's exact solution is off by {pct(figures['network_error_there'])}, "
                  f"ngspice's own error is {pct(figures['simulation_error_there'])} and the continuous-time "
                  f"window differs from the model's feature of the samples by "
                  f"{pct(figures.get('window_error_there'))}"
                  if figures.get("simulation_error_there") is not None else ""))
    for path in figures["at_risk"]:
        click.echo(f"  margin within twice the feature error (could flip): {path}")
    for path in figures["no_single_decision"]:
        click.echo(f"  no single decision port high: {path}")
    for path in figures.get("simulation_limited", []):
        click.echo(f"  margin within four times ngspice's own error (the decision may be the simulator's): {path}")
    for path in figures.get("detectors_clipped", []):
        click.echo(f"  a detector reached its swing (louder than the readout's full scale): {path}")


@main.command(name="train")
@click.argument("data_path", metavar="DATA", type=click.Path(exists=True))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False),
              help="MODEL.r2nn or MODEL.json to write.")
@click.option("--resonators", "n_resonators", type=click.IntRange(2, 4096), default=16, show_default=True)
@click.option("--band-hz", "band_text", default=None, metavar="LO:HI", help="Band of the initial resonances.")
@click.option("--frequencies", "freq_text", default=None, metavar="F1,F2,...",
              help="Initial resonances (Hz) of the first resonators, e.g. a machine's characteristic "
                   "frequencies; the others are log-spaced over the band.")
@click.option("--passive", is_flag=True, help="All values positive: no negative resistance, no op-amps.")
@click.option("--springs", is_flag=True, help="Train spring couplings as well as dampers.")
@click.option("--max-couplings", type=click.IntRange(0, 10**6), default=None, help="Prune to this many couplings.")
@click.option("--l1", type=float, default=1e-3, show_default=True, help="L1 weight on couplings (sparsity).")
@click.option("--hardware-aware", type=float, default=0.0, show_default=True,
              help="Std of multiplicative part noise during training (e.g. 0.02).")
@click.option("--steps", type=click.IntRange(1, 10**6), default=300, show_default=True)
@click.option("--validation", type=click.FloatRange(0, 0.9), default=0.2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--readout-kind", type=click.Choice(READOUT_KINDS), default="rms", show_default=True,
              help="Feature the readout weights are fit to: rms (mean of the window's samples) or "
                   "rms_continuous (continuous-time mean square, what --readout analog computes).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Loss/accuracy curves (PNG).")
@handles_errors
def train_cmd(data_path, out_path, n_resonators, band_text, freq_text, passive, springs, max_couplings, l1,
              hardware_aware, steps, validation, seed, readout_kind, plot_path) -> None:
    """Train an R²NN on DATA (a folder of class folders of WAV files, or an .npz) and write it."""
    from .train import TrainOptions, load_dataset, plot_history, train

    dataset = load_dataset(data_path)
    options = TrainOptions(n_resonators=n_resonators, passive=passive, max_couplings=max_couplings, l1=l1,
                           coupling_kinds=("damper", "spring") if springs else ("damper",),
                           hardware_aware=hardware_aware, steps=steps, validation=validation, seed=seed,
                           band=_parse_band(band_text) if band_text else None,
                           frequencies=_parse_frequencies(freq_text) if freq_text else (),
                           readout_kind=readout_kind)
    result = train(dataset, options, progress=True)
    compiler.save_model(result.model, out_path)
    if plot_path:
        plot_history(result.history, plot_path)
    for key, value in result.metrics.items():
        click.echo(f"  {key:<28}{value:.4g}" if isinstance(value, float) else f"  {key:<28}{value}")
    click.echo(f"wrote {out_path}")


def _parse_frequencies(text: str) -> tuple[float, ...]:
    try:
        quantities = [parse_quantity(item) for item in text.split(",") if item.strip()]
        values = tuple(q.value for q in quantities if q.unit in (None, "Hz") and q.value > 0)
    except ValueError:
        quantities, values = [], ()
    if not values or len(values) != len(quantities):
        raise click.UsageError(f"--frequencies: expected comma-separated frequencies in Hz (e.g. 105,159.2,1.2k), "
                               f"got {text!r}")
    return values


@main.command(name="tolerance")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.argument("more_signals", nargs=-1, metavar="[SIGNAL...]", type=click.Path())
@click.option("--signals", "signal_paths", multiple=True, type=click.Path(),
              help="Signal file or directory (repeatable). Folders named after a class label their signals.")
@click.option("--tol", "tol_text", default="R=1%,C=5%,L=10%", show_default=True,
              help="Part tolerances per kind.")
@click.option("--runs", type=click.IntRange(1, 1_000_000), default=500, show_default=True)
@click.option("--distribution", type=click.Choice(["uniform", "normal"]), default="uniform", show_default=True,
              help="uniform within ±tol, or normal with σ = tol/3.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--spot-checks", type=click.IntRange(0, 100), default=3, show_default=True,
              help="Draws also simulated in ngspice.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None, help="Worker processes (default: all cores).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the draws and spot checks on the Dask cluster whose scheduler is at ADDRESS.")
@click.option("--rate", type=float, default=None, help="Sample rate in Hz for .csv/.npy signals.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the report as JSON.")
@handles_errors
def tolerance_cmd(model_path, outdir, more_signals, signal_paths, tol_text, runs, distribution, seed, spot_checks,
                  workers, scheduler, rate, json_path) -> None:
    """Monte Carlo over part tolerances of the deck in OUTDIR (circuit-level MNA, ngspice spot checks)."""
    from .tolerance import parse_tolerances

    model = compiler.load_model(model_path)
    report = compiler.tolerance(model, outdir, list(signal_paths) + list(more_signals), parse_tolerances(tol_text),
                                rate_hz=rate, runs=runs, seed=seed, distribution=distribution,
                                spot_checks=spot_checks, workers=workers, progress=True, scheduler=scheduler)
    data = report.to_json()
    if json_path:
        from .fileutil import write_text_atomic

        write_text_atomic(json_path, json.dumps(data, indent=1) + "\n")
    tols = ", ".join(f"{k} ±{100 * v:g}%" for k, v in report.tolerances.items())
    a = data["agreement"]
    click.echo(f"{report.runs} draws ({report.distribution}, {tols}); nominal agreement "
               f"{100 * report.nominal_agreement:.1f} %")
    click.echo(f"class agreement with the reference: mean {100 * a['mean']:.1f} %, 5 % {100 * a['p5']:.1f} %, "
               f"95 % {100 * a['p95']:.1f} %")
    if data["accuracy"] is not None:
        acc = data["accuracy"]
        click.echo(f"accuracy (folder labels): mean {100 * acc['mean']:.1f} %, 5 % {100 * acc['p5']:.1f} %, "
                   f"95 % {100 * acc['p95']:.1f} % (reference model {100 * report.reference_accuracy:.1f} %)")
    click.echo("most sensitive parts (±tol one at a time):")
    for row in report.sensitivity:
        click.echo(f"  {row['designator']:<8}{format_si(row['value'], {'R': 'ohm', 'L': 'H', 'C': 'F'}[row['kind']]):>12}"
                   f"  features move {100 * row['feature_change']:.2f} %, flips {row['decisions_flipped']}"
                   f"  ({row['origin']})")
    for check in report.spot_checks:
        click.echo(f"ngspice spot check, draw {check['draw']}: {check['decisions_agree']}/{check['signals']} "
                   f"decisions as the MNA predicts, NRMSE ngspice vs MNA {check['ngspice_vs_mna_nrmse']:.2e}")


if __name__ == "__main__":  # pragma: no cover
    main()
