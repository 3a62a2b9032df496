"""The ``r2nn`` command line. Thin: parse options, call the API, print, exit.

Exit codes: 0 ok, 1 bad input or model (or a failed verification), 2 usage, 3 internal error
(a bug: please report it; set R2NN_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
import numpy as np

from . import __version__, compiler, reference
from .circuit.tolerances import DEFAULT_TOLERANCES, parse_tolerances
from .errors import R2nnError, UsageError
from .model.ir import READOUT_KINDS
from .options import (CompileArgs, compile_options, kicad_footprints, parse_band, parse_flow, parse_frequencies,
                      parse_segments, usage)
from .units import format_si

#: Units of a coupling's value, by kind (``r2nn check``).
COUPLING_UNITS = {"damper": "N·s/m", "spring": "N/m"}


def _fail(message: str, code: int) -> None:
    click.echo(" ".join(message.split()), err=True)
    sys.exit(code)


def handles_errors(func):
    """Turn every R2nnError into its one line on stderr and its exit code; never a traceback.

    The one usage error is :class:`errors.UsageError` (exit 2). One about an option's value
    (``where`` the option, e.g. ``--segments``: :func:`options.usage`) is printed as click
    prints a bad option value: its usage line, then ``Error: <the one line>``."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UsageError as exc:
            if names_option(exc):
                raise click.UsageError(exc.one_line()) from None
            click.echo(exc.one_line(), err=True)
            sys.exit(exc.exit_code)
        except R2nnError as exc:
            for problem in getattr(exc, "all", None) or [exc]:
                click.echo(problem.one_line(), err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except click.ClickException:
            raise  # click's own (its exit codes and messages)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("R2NN_DEBUG"):
                raise
            _fail(f"internal error (please report; R2NN_DEBUG=1 shows the traceback): {type(exc).__name__}: {exc}", 3)

    return wrapper


def names_option(exc: UsageError) -> bool:
    """True when ``exc`` is about the value of a command-line option (``where`` is ``--name``)."""
    where = exc.where
    return where is not None and where.file is None and (where.parameter or "").startswith("--")


def table_lines(rows: list[list[str]], align: str, indent: str = "") -> list[str]:
    """``rows`` of cells as lines, columns two spaces apart and each as wide as its widest cell
    (a header row included), so no value runs into the next; ``align`` gives one ``<`` (left) or
    ``>`` (right) per column. Trailing blanks are dropped."""
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(len(align))]
    return [(indent + "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths))).rstrip()
            for row in rows]


def metric_lines(metrics: dict) -> list[str]:
    """``r2nn train``'s summary: one ``key  value`` line per metric, floats to 4 significant
    digits, the key column as wide as the longest key."""
    return table_lines([[key, f"{value:.4g}" if isinstance(value, float) else str(value)]
                        for key, value in metrics.items()], "<<", indent="  ")


def _check_output_file(path: str | None, option: str) -> None:
    """Raise UsageError naming ``option`` unless ``path`` (when given) can be written once the
    work is done: its directory exists and it is not a directory itself."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option}: {path} is a directory, expected a file name")
    if not target.resolve().parent.is_dir():
        raise UsageError(f"{option}: the directory of {path} does not exist")


def _check_figure_file(path: str | None, option: str) -> None:
    """:func:`_check_output_file`, and a suffix matplotlib can write (none means PNG)."""
    _check_output_file(path, option)
    if path is None or not Path(path).suffix:
        return
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if Path(path).suffix.lower()[1:] not in formats:
        raise UsageError(f"{option}: cannot write a figure as {Path(path).suffix!r}: expected one of "
                         f"{', '.join('.' + f for f in sorted(formats))}")


def _warn_if_nearly_unstable(model) -> None:
    warning = reference.stability_warning(model)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def _list_passes(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .passes import REGISTRY

    rows = [[name, (cls.__module__ and sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]]
            for name, cls in sorted(REGISTRY.items())]
    for line in table_lines(rows, "<<"):
        click.echo(line)
    ctx.exit(0)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="r2nn")
def main() -> None:
    """r2nn: compile resonant recurrent neural networks into verified analog circuits."""


def _readout_summary(model) -> dict:
    """``r2nn check --json``'s readout: kind and window; for a linear layer also its segment
    boundaries (s), floor, feature and segment counts, the resonators it reads (in
    ``model.read_nodes`` order) with their feature counts, and its classes."""
    ro = model.readout
    summary = {"kind": ro.kind, "start": ro.start, "stop": ro.stop}
    if ro.is_linear:
        summary.update({
            "segments": list(ro.boundaries), "n_segments": len(ro.boundaries) - 1, "floor": ro.floor,
            "n_features": len(ro.features),
            "reads": {node: sum(f.node == node for f in ro.features) for node in model.read_nodes},
            "classes": [{"class": c.cls, "bias": c.bias, "n_weights": len(c.weights)} for c in ro.classes],
        })
        if ro.law is not None:
            summary["law"] = {"kind": ro.law.kind, "nvt": ro.law.nvt, "rate": ro.law.rate, "clip": ro.law.clip,
                              "hold": ro.law.hold}
    return summary


def _layer_lines(model) -> list[str]:
    """``r2nn check``'s lines on a linear layer, a few whatever its size: the segments, the
    resonators read, one line per class (bias, how many weights, the largest)."""
    ro = model.readout
    lengths = np.diff(ro.boundaries)
    if lengths.size > 1 and np.allclose(lengths, lengths[0], rtol=1e-9, atol=0):
        cut = f"{lengths.size} equal segments of {lengths[0]:g} s"
    else:
        cut = f"{lengths.size} segment(s), boundaries " + ", ".join(f"{b:g}" for b in ro.boundaries) + " s"
    law = (f"law diode (n·Vt {ro.law.nvt:.4g} V, k {ro.law.rate:.4g} 1/s, clip {ro.law.clip:.4g} V)"
           if ro.law is not None else f"floor {ro.floor:.3g}")
    lines = [f"layer: {len(ro.features)} features over {cut}, {law}",
             "reads " + ", ".join(f"{node} ({sum(f.node == node for f in ro.features)})" for node in model.read_nodes)]
    for c in ro.classes:
        largest = max(c.weights, key=lambda item: abs(item[1]), default=None)
        most = f", largest {largest[1]:.4g} on {largest[0]}" if largest else ""
        lines.append(f"class {c.cls}: bias {c.bias:.6g}, {len(c.weights)} weight(s){most}")
    return lines


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@handles_errors
def check(model_path: str, as_json: bool) -> None:
    """Validate MODEL and summarise it (resonators, couplings, inputs, outputs or readout layer, stability)."""
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
        "readout": _readout_summary(model),
        "stability_margin_per_s": margin,
        "slowest_pole": [pole.real, pole.imag],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=1))
        return
    click.echo(f"model {model.name}: {len(model.resonators)} resonators, {len(model.couplings)} couplings, "
               f"{len(model.inputs)} input(s), {len(model.classes)} classes, analogy {model.analogy}")
    if model.band:
        click.echo(f"band {format_si(model.band[0], 'Hz')} .. {format_si(model.band[1], 'Hz')}")
    rows = [["resonator", "f0", "Q", "m (kg)", "k (N/m)", "c (N·s/m)"]]
    rows += [[r.name, format_si(r.f0_hz, "Hz"), f"{r.q:.4g}", f"{r.mass:.4g}", f"{r.stiffness:.4g}", f"{r.damping:.4g}"]
             for r in model.resonators]
    for line in table_lines(rows, "<>>>>>"):
        click.echo(line)
    for c in model.couplings:
        click.echo(f"couple {c.a} -- {c.b} {c.kind} {c.value:.6g} {COUPLING_UNITS.get(c.kind, '')}".rstrip())
    for i in model.inputs:
        click.echo(f"input {i.name} -> " + ", ".join(f"{n} ({w:.6g})" for n, w in i.drives))
    for o in model.outputs:
        click.echo(f"output {o.cls} = {o.node} (weight {o.weight:.6g})")
    click.echo(f"readout {model.readout.kind} from {model.readout.start:g} s to {model.readout.stop:g} s")
    if model.readout.is_linear:
        for line in _layer_lines(model):
            click.echo(line)
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
@click.option("--json", "as_json", is_flag=True,
              help="Print {features, predicted} as JSON ({features, scores, predicted} for a linear readout).")
@handles_errors
def simulate(model_path: str, signal_path: str, rate: float | None, plot_path: str | None, as_json: bool) -> None:
    """Run the reference model on SIGNAL (.wav, .csv or .npy): features (and a linear readout's
    class scores) and predicted class."""
    _check_figure_file(plot_path, "--plot")
    model = compiler.load_model(model_path)
    result = compiler.simulate(model, signal_path, rate)
    if plot_path:
        from .plots import plot_waveforms

        if model.readout.is_linear:
            plot_waveforms(result, plot_path, _read_node_labels(result), f" (predicted {result.predicted})")
        else:
            plot_waveforms(result, plot_path)
    if model.readout.is_linear:
        _print_layer(result, as_json)
        return
    if as_json:
        click.echo(json.dumps({"features": result.feature_map(), "predicted": result.predicted}, indent=1))
        return
    rows = [[cls, f"{value:.6e}", "<- predicted" if cls == result.predicted else ""]
            for cls, value in result.feature_map().items()]
    for line in table_lines(rows, "<><"):
        click.echo(line)


def _print_layer(result, as_json: bool) -> None:
    """``r2nn simulate``'s output for a linear readout: the features φ (JSON: by name; text: a
    table of resonators × segments), the class scores and the predicted class."""
    model = result.model
    ro = model.readout
    phi = reference.layer_features(model, result.signal.data[None], result.signal.rate_hz)[0]
    scores = result.feature_map()  # a linear readout's decision values are its scores
    if as_json:
        click.echo(json.dumps({"features": {f.name: float(v) for f, v in zip(ro.features, phi)},
                               "scores": scores, "predicted": result.predicted}, indent=1))
        return
    k = len(ro.boundaries) - 1
    cells: dict[str, list[list[str]]] = {node: [[] for _ in range(k)] for node in model.read_nodes}
    for f, v in zip(ro.features, phi):  # two features may read the same resonator and segment
        cells[f.node][f.segment].append(f"{v:.5g}")
    what = "readings ψ (V, law diode)" if ro.law is not None else f"ln(MS + {ro.floor:.3g})"
    click.echo(f"features {what} by resonator and segment "
               f"({', '.join(f'{b:g}' for b in ro.boundaries)} s):")
    rows = [["resonator", *(f"seg {s}" for s in range(k))]]
    rows += [[node, *("; ".join(c) for c in row)] for node, row in cells.items()]
    for line in table_lines(rows, "<" + ">" * k, indent="  "):
        click.echo(line)
    click.echo("scores:")
    rows = [["class", "score", ""]] + [[cls, f"{value:.6e}", "<- predicted" if cls == result.predicted else ""]
                                       for cls, value in scores.items()]
    for line in table_lines(rows, "<><", indent="  "):
        click.echo(line)


def _read_node_labels(result) -> list[str]:
    """A linear model's waveform labels: each read resonator with the RMS of its samples in the window."""
    ro = result.model.readout
    inside = (result.times_s >= ro.start) & (result.times_s <= ro.stop)
    return [f"{node}: RMS {np.sqrt(np.mean(v[inside] ** 2)):.3g}"
            for node, v in zip(result.model.read_nodes, result.outputs)]


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
    """Frequency response of every output (a linear readout: every read resonator) to every input."""
    _check_figure_file(plot_path, "--plot")
    model = compiler.load_model(model_path)
    grid = reference.default_grid(model, points)
    lo, hi = fmin or grid[0], fmax or grid[-1]
    if not 0 < lo < hi:
        raise usage("--fmin", f"expected 0 < --fmin < --fmax, got {lo:g} and {hi:g}")
    freqs = np.geomspace(lo, hi, points)
    h = reference.frequency_response(model, freqs)
    if plot_path:
        from .plots import plot_bode

        plot_bode(model, freqs, h, plot_path, rows=[label or node for label, node in _response_rows(model)])
    if as_json:
        click.echo(json.dumps({
            "freqs_hz": freqs.tolist(),
            "responses": [{**({"class": label} if label else {}), "node": node, "input": i.name,
                           "magnitude": np.abs(h[j, k]).tolist(), "phase_deg": np.degrees(np.angle(h[j, k])).tolist()}
                          for j, (label, node) in enumerate(_response_rows(model)) for k, i in enumerate(model.inputs)],
        }))
        return
    rows = [["class", "node", "input", "peak at", "peak |H|"]]
    for j, (label, node) in enumerate(_response_rows(model)):
        for k, i in enumerate(model.inputs):
            mag = np.abs(h[j, k])
            p = int(np.argmax(mag))
            rows.append([label or "-", node, i.name, format_si(freqs[p], "Hz"), f"{mag[p]:.6g}"])
    for line in table_lines(rows, "<<<>>"):
        click.echo(line)


def _response_rows(model) -> list[tuple[str | None, str]]:
    """(class or None, resonator) of each row of ``reference.frequency_response``: the outputs,
    or a linear readout's read resonators (no class of their own)."""
    if model.readout is not None and model.readout.is_linear:
        return [(None, node) for node in model.read_nodes]
    return [(o.cls, o.node) for o in model.outputs]


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
@click.option("--parasitics", is_flag=True,
              help="Model inductor loss (--inductor-q) and capacitor ESR, compensated, and quantise with them.")
@click.option("--ideal-parts", is_flag=True,
              help="No parasitics: ideal inductors and capacitors (the default for now; contradicts --parasitics).")
@click.option("--no-robust-parts", is_flag=True,
              help="Buy every part in its kind's default tolerance class (no tighter class for the few parts that "
                   "dominate the outputs' spread: robust_parts).")
@click.option("--robust-parts-by", "robust_rule", type=click.Choice(["band-rms", "decisions"]), default="band-rms",
              show_default=True,
              help="How robust_parts picks the parts to buy tighter: the outputs' band-RMS spread, or (with "
                   "--calibrate-signals) each part's effect on the decisions on those clips, tightened until a "
                   "Monte Carlo of them predicts the agreement targets (about 3x the compile time).")
@click.option("--inductor-q", type=float, default=50.0, show_default=True)
@click.option("--inductors", type=click.Choice(["passive", "gic"]), default="passive", show_default=True,
              help="Spring inductors as wound parts (passive) or as Antoniou GICs: two op-amps, four resistors "
                   "and a capacitor each (gic; grounded springs only, needs the hardware flow).")
@click.option("--readout", type=click.Choice(["none", "analog", "analog-tl072", "analog-micropower", "behavioural"]),
              default="none", show_default=True,
              help="On-circuit readout: output buffers (weights as gains), mean-square detectors over the readout "
                   "window and a winner-take-all driving one decision port per class; analog: from parts, "
                   "behavioural: B-sources for fast checks. analog on a linear layer with 'law diode' is the "
                   "micropower design (passive diode cells on the resonator nodes, power-gated sums and "
                   "comparators on one 3.3 V supply; also by name: analog-micropower), on any other model the "
                   "±15 V TL072 design (op-amps, 1N4148, 2N3904, E96; also by name: analog-tl072). A linear "
                   "layer without a law: behavioural only for now.")
@click.option("--drive", type=click.Choice(["parts", "ideal"]), default=None,
              help="How the inputs drive the network: parts (each drive an E96 resistor from the input port into "
                   "its resonator, its loading absorbed into the damping; negative weights from an inverted input "
                   "port) or ideal (VCCS). Default: parts with --readout analog, else ideal.")
@click.option("--no-calibrate", is_flag=True,
              help="Keep each output's gain as its parts give it, without trimming it to the model's level "
                   "(calibrate_outputs).")
@click.option("--calibrate-signals", "calibration_paths", multiple=True, type=click.Path(), metavar="FILE|DIR",
              help="Trim the output gains on these signals (e.g. training clips; repeatable) instead of on the "
                   "model's band power: each output's features then match the model's on them; with --readout analog "
                   "on a diode-law layer they also set the sums' scale (docs/micropower.md).")
@click.option("--score-scale", type=click.Choice(["calibration", "calibration_top", "worst_case"]), default=None,
              help="With --readout analog on a diode-law layer and --calibrate-signals: map onto the rails the "
                   "range of all sums over the calibration clips (calibration, the default), of each clip's top two "
                   "(calibration_top: more mV per score unit, losing sums below it saturate), or of any readings "
                   "(worst_case); docs/micropower.md.")
@click.option("--rate", type=float, default=None, help="Sample rate in Hz of .csv/.npy calibration signals.")
@click.option("--flow", "flow_text", default=None,
              help="Comma-separated pass names to run instead of the default flow (see --list-passes).")
@click.option("--kicad", is_flag=True,
              help="Also write a KiCad 9 schematic of the whole circuit (<name>.kicad_sch, with footprints and "
                   "Sim.* fields), the subcircuit as a block symbol (<name>.kicad_sym) and a KiCad project.")
@click.option("--footprints", "footprints_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Footprint overrides for --kicad (implies it): lines 'KEY Library:Footprint', KEY a part class "
                   "(R, C, L, opamp, nettie) or a designator.")
@click.option("--list-passes", is_flag=True, is_eager=True, expose_value=False, callback=_list_passes,
              help="List the registered passes and exit.")
@handles_errors
def compile_cmd(model_path: str, outdir: str, exact: bool, band_text, series_text, strategy, pair_target, opamp,
                gbw_hz, opamp_param_text, single_inductors, parasitics, inductor_q, inductors, flow_text: str | None,
                no_robust_parts: bool = False, robust_rule: str = "band-rms", ideal_parts: bool = False, readout: str = "none", drive: str | None = None, no_calibrate: bool = False, calibration_paths: tuple[str, ...] = (),
                rate: float | None = None, kicad: bool = False, footprints_path: str | None = None,
                score_scale: str | None = None) -> None:
    """Compile MODEL into an ngspice deck, manifest.json and bom.csv in OUTDIR."""
    model = compiler.load_model(model_path)
    _warn_if_nearly_unstable(model)
    flow = parse_flow(flow_text)
    args = CompileArgs(
        exact=exact, band_text=band_text, series_text=series_text, strategy=strategy, pair_target=pair_target,
        opamp=opamp, gbw_hz=gbw_hz, opamp_param_text=tuple(opamp_param_text), single_inductors=single_inductors,
        parasitics=parasitics, inductor_q=inductor_q, inductors=inductors, readout=readout,
        drive=drive, robust_parts=not no_robust_parts,
        robust_rule=robust_rule.replace("-", "_"), ideal_parts=ideal_parts, no_calibrate=no_calibrate, calibrating=bool(calibration_paths), kicad=kicad, footprints_path=footprints_path)
    options, footprints = compile_options(args), kicad_footprints(args)
    if calibration_paths:
        options.calibration_signals = compiler.load_signals(model, list(calibration_paths), rate)
    options.score_scale = score_scale
    result = compiler.compile_model(model, outdir, flow=flow, options=options, kicad=footprints)
    rows = [[entry.name, entry.summary] for entry in result.log]
    if result.spec.energy is not None:
        rows.append(["energy", result.spec.energy.summary()])
    for line in table_lines(rows, "<<", indent="  "):
        click.echo(line)
    click.echo(f"wrote {outdir}: {', '.join(sorted(result.files))} ({result.spec.total_components} components: "
               + ", ".join(f"{v} {k}" for k, v in result.spec.component_counts.items()) + ")")


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
@click.option("--method", type=click.Choice(["auto", "direct", "superposition"]), default="auto", show_default=True,
              help="Transients: one ngspice run per clip set (direct), or one run of unit hats whose responses "
                   "are convolved with every clip (superposition: linear decks; auto takes it where it is cheaper).")
@click.option("--spot-checks", type=click.IntRange(0, None), default=2, show_default=True,
              help="Superposition: clips (smallest margins first) also run directly; it falls back to direct runs "
                   "when their traces differ by more than a tenth of --nrmse.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Local worker processes running ngspice (default: all cores).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the simulations on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://host:8786).")
@handles_errors
def verify(model_path, outdir, more_signals, signal_paths, rate, json_path, plot_dir, nrmse_tol, min_agreement,
           engine, no_ac, timeout_s, trust_deck, accuracy, no_refine, method, spot_checks, workers, scheduler) -> None:
    """Simulate the compiled deck in OUTDIR with ngspice and compare it with the reference model.

    Exit 0 only if every output's NRMSE, every class decision and the AC response are within
    tolerance."""
    from .verify import Tolerances

    _check_output_file(json_path, "--json")
    if plot_dir is not None and Path(plot_dir).exists() and not Path(plot_dir).is_dir():
        raise UsageError(f"--plot: {plot_dir} exists and is not a directory")
    model = compiler.load_model(model_path)
    paths = list(signal_paths) + list(more_signals)
    report = compiler.verify(model, outdir, paths, rate_hz=rate, engine=engine, run_ac=not no_ac,
                             tolerances=Tolerances(nrmse=nrmse_tol, min_agreement=min_agreement), timeout_s=timeout_s, progress=True,
                             trust_deck=trust_deck, accuracy=accuracy, workers=workers, scheduler=scheduler,
                             refine=not no_refine, method=method, spot_checks=spot_checks)
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
        rows = [["signal", "NRMSE"] + ([] if report.exact else ["vs circuit"]) + ["reference", "circuit", "agree"]]
        for s in report.signals:
            vs = [] if report.exact else [f"{max(s.nrmse_vs_circuit.values()):.3e}"]
            rows.append([_short_path(s.path), f"{s.worst_nrmse:.3e}"] + vs
                        + [s.reference_class, s.circuit_class, "yes" if s.agree else "NO"])
        for line in table_lines(rows, "<>" + ("" if report.exact else ">") + "<<<"):
            click.echo(line)
    for a in report.ac:
        e = a.errors
        vs = "" if a.circuit_errors is None else (f"; against the deck's circuit {a.circuit_errors['peak_freq_error']:.2e}"
                                                  f" and {a.circuit_errors['peak_mag_error']:.2e}")
        click.echo(f"AC {a.name} <- {a.input}: peak {format_si(e['peak_hz_circuit'], 'Hz')} "
                   f"(reference {format_si(e['peak_hz_reference'], 'Hz')}), peak freq error {e['peak_freq_error']:.2e}, "
                   f"peak |H| error {e['peak_mag_error']:.2e}{vs}")
    refined = report.refined
    if refined:
        click.echo(f"{len(refined)} signal(s) simulated again at a finer accuracy (down to "
                   f"{min(s.accuracy for s in refined):.3g}): their margin was within ngspice's own error")
    _print_decisions(report.decisions)
    _print_energy(report.energy)
    _print_loaded_taps(report.loaded_taps)
    _print_method(report.method)
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


def _print_loaded_taps(figures: dict) -> None:
    """A readout whose cells hang on the taps: the loaded taps beside the gated linear part."""
    if not figures:
        return
    click.echo(f"taps loaded by the readout's cells (reported, not gated; the NRMSE vs the deck's circuit above is its "
               f"linear part run alone): worst NRMSE vs the linear circuit {figures['worst_nrmse_vs_circuit']:.3e} "
               f"(tap {figures['worst_tap']}; {figures['signals_over_limit']} of {figures['signals']} signals over "
               f"{figures['nrmse_limit']:g}), vs the linear part's run {figures['worst_nrmse_vs_linear_part']:.3e} "
               f"(tap {figures['worst_tap_vs_linear_part']}); the law's scores moved by up to "
               f"{figures['worst_score_error']:.3g} score units, a reading by up to "
               f"{figures['worst_feature_error_v'] * 1e3:.3g} mV")


def _print_energy(figures: dict) -> None:
    """Measured supply energy per decision beside the manifest's estimate (decks with supplies)."""
    if not figures:
        return
    estimate = figures["estimate_j"]
    click.echo(f"supply energy per decision, measured in ngspice over 0..{format_si(figures['interval_s'], 's')}: "
               f"mean {format_si(figures['measured_mean_j'], 'J')}, max {format_si(figures['measured_max_j'], 'J')} "
               f"({figures['clips']} clips); estimate {format_si(estimate, 'J') if estimate is not None else 'n/a'}"
               + (f" (measured/estimate {figures['measured_over_estimate']:.4g})"
                  if figures['measured_over_estimate'] is not None else "")
               + (f"; control timer {format_si(figures['timer_j'], 'J')} (not simulated)" if figures["timer_j"] else ""))


def _print_method(method) -> None:
    """How the transients were simulated: superposition's kernels and spot checks, or why not."""
    if method is None or not method.used:
        return
    if method.used == "direct":
        click.echo("transients: direct runs" + (f"; {method.reason}" if method.reason else ""))
        return
    for k in method.kernels:
        click.echo(f"transients: superposition, kernel {k.kernel_s:.4g} s ({k.samples} samples at {k.rate_hz:g} Hz, "
                   f"step Ts/{k.substeps}{', cached' if k.cached else ''})")
    for spot in method.spot:
        click.echo(f"spot checks ({len(spot.paths)} clips run directly): superposed traces within {spot.difference:.3g} "
                   f"(NRMSE) of them, limit {spot.limit:.3g}")


#: ``r2nn verify``'s table shows at most this many characters of a signal's path (its end).
PATH_WIDTH = 48


def _short_path(path: str, width: int = PATH_WIDTH) -> str:
    """``path`` if it has at most ``width`` characters, else ``...`` and its last ones."""
    return path if len(path) <= width else "..." + path[-(width - 3):]


def _print_decisions(figures: dict) -> None:
    """The on-circuit readout's figures (decks compiled with --readout), if any."""
    if not figures:
        return

    def pct(value) -> str:  # margins and errors: relative, or a linear layer's score units
        if value is None:
            return "n/a"
        return f"{value:.3g} (score)" if figures.get("margins") == "absolute" else f"{100 * value:.3g} %"

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
    for path in figures.get("sums_saturated", []):
        click.echo(f"  a sum outside its linear range (score_scale.linear_volts), not scored: {path}")


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
              help="Train with multiplicative Gaussian part noise of this std instead of the part tolerances "
                   "(e.g. 0.02).")
@click.option("--tolerances", "tolerances_text", default=None, metavar="R=1%,C=5%,L=10%|none",
              help=f"Part tolerances to train against: each step draws --tolerance-draws boards within them and "
                   f"trains on the worst. Default: {DEFAULT_TOLERANCES}, the tolerances a default compile buys, "
                   f"unless --hardware-aware is given; none: no part noise.")
@click.option("--tolerance-draws", type=click.IntRange(1, 100), default=3, show_default=True,
              help="Boards drawn per step against the part tolerances.")
@click.option("--steps", type=click.IntRange(1, 10**6), default=300, show_default=True)
@click.option("--validation", type=click.FloatRange(0, 0.9), default=0.2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--readout-kind", type=click.Choice([k for k in READOUT_KINDS if k != "linear"]), default="rms",
              show_default=True, help="With --readout argmax: the feature the readout weights are fit to: rms (mean of the "
                   "window's samples) or rms_continuous (continuous-time mean square, what --readout analog "
                   "computes).")
@click.option("--readout", "readout", type=click.Choice(["linear", "argmax"]), default="linear", show_default=True,
              help="linear: a trained layer over log mean squares of resonators over segments of the window; "
                   "argmax: one output resonator per class.")
@click.option("--segments", "segments_text", default="auto", show_default=True, metavar="auto|K|S0,S1,...",
              help="Linear readout: K equal segments of the window, the boundaries in s (they set the window), "
                   "or auto (K in 1,2,3,4,6,12 by cross-validation on the training clips).")
@click.option("--max-features", type=click.IntRange(1, 10**6), default=None,
              help="Linear readout: at most this many resonator x segment detectors (default: all).")
@click.option("--floor", type=click.FloatRange(0, min_open=True), default=None,
              help="Linear readout: floor eps of ln(MS + eps), (m/s)^2 (default: 1e-4 x the median MS).")
@click.option("--group-lasso", type=click.FloatRange(0), default=1e-3, show_default=True,
              help="Linear readout: weight of the group lasso over the detectors (sparsity).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Loss/accuracy curves (PNG).")
@handles_errors
def train_cmd(data_path, out_path, n_resonators, band_text, freq_text, passive, springs, max_couplings, l1,
              hardware_aware, tolerances_text, tolerance_draws, steps, validation, seed, readout_kind, readout,
              segments_text, max_features, floor, group_lasso, plot_path) -> None:
    """Train an R²NN on DATA (a folder of class folders of WAV files, or an .npz) and write it."""
    from .train import TrainOptions, load_dataset, plot_history, train

    _check_output_file(out_path, "-o")
    compiler.check_model_path(out_path)
    _check_figure_file(plot_path, "--plot")
    tolerances_text = training_tolerances(tolerances_text, hardware_aware)
    options = TrainOptions(n_resonators=n_resonators, passive=passive, max_couplings=max_couplings, l1=l1,
                           coupling_kinds=("damper", "spring") if springs else ("damper",),
                           hardware_aware=hardware_aware, steps=steps, validation=validation, seed=seed,
                           tolerances=tolerances_text, tolerance_draws=tolerance_draws,
                           band=parse_band(band_text) if band_text else None,
                           frequencies=parse_frequencies(freq_text) if freq_text else (),
                           readout_kind=readout_kind, readout=readout, segments=parse_segments(segments_text),
                           max_features=max_features, floor=floor, group_lasso=group_lasso)
    dataset = load_dataset(data_path)
    result = train(dataset, options, progress=True)
    click.echo(f"part noise: the worst of {tolerance_draws} boards per step within {tolerances_text}" if tolerances_text
               else f"part noise: Gaussian, std {hardware_aware:g}" if hardware_aware else "part noise: none")
    compiler.save_model(result.model, out_path)
    if plot_path:
        plot_history(result.history, plot_path)
    for line in metric_lines(result.metrics):
        click.echo(line)
    click.echo(f"wrote {out_path}")


def training_tolerances(text: str | None, hardware_aware: float) -> str | None:
    """The part tolerances ``r2nn train`` trains against: ``text`` as given (``none``: no part noise),
    else the default compile's (DEFAULT_TOLERANCES) unless ``hardware_aware`` chose Gaussian noise.
    Raises UsageError for a malformed ``text`` or for both kinds of noise asked for."""
    if text is None:
        return None if hardware_aware else DEFAULT_TOLERANCES
    if text.strip().lower() == "none":
        return None
    parse_tolerances(text, "--tolerances")
    if hardware_aware:
        raise UsageError("--tolerances: choose them or --hardware-aware, not both")
    return text


@main.command(name="refit-readout")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("data_path", metavar="DATA", type=click.Path(exists=True))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(dir_okay=False),
              help="MODEL.r2nn or MODEL.json to write.")
@click.option("--law", type=click.Choice(["diode"]), default="diode", show_default=True,
              help="The feature law the layer is refitted to: the passive diode cell (docs/diode-law.md).")
@click.option("--nvt", "nvt_text", default=None, metavar="V",
              help="n·Vt of the diode, e.g. 43.4mV (default: the recommended cell's, docs/micropower.md).")
@click.option("--law-rate", "rate_text", default=None, metavar="HZ",
              help="The cell's k = Is/(C n Vt) in 1/s, written as Hz, e.g. 12.2Hz (default: the recommended cell's).")
@click.option("--clip", "clip_text", default="1.6V", show_default=True, metavar="V",
              help="The taps' swing limit about their reference.")
@click.option("--hold", "hold_text", default=None, metavar="S|none",
              help="Hold droop time constant of a held reading (default: the recommended cell's; none: no droop).")
@click.option("--gain", "gain_mode", type=click.Choice(["common", "per-tap"]), default="common", show_default=True,
              help="common: one gain for every tap (--peak-v); per-tap: one per tap (--x-rms), each tap then needs "
                   "its own buffer.")
@click.option("--peak-v", "peak_text", default=None, metavar="V",
              help="--gain common: the largest |tap| over the training clips' windows (default: --clip).")
@click.option("--x-rms", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True,
              help="--gain per-tap: each tap's loudest training clip's window RMS, in units of n·Vt.")
@click.option("--max-weight", "max_weight_text", default=None, metavar="PER_V|none",
              help="Bound on every |class weight| in 1/V, the fit on raw readings (default 8: a layer the micropower "
                   "deck realises, docs/diode-law.md; none: L2 alone).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the cross-validation folds.")
@handles_errors
def refit_readout_cmd(model_path, data_path, out_path, law, nvt_text, rate_text, clip_text, hold_text, gain_mode,
                      peak_text, x_rms, max_weight_text, seed) -> None:
    """Refit MODEL's linear readout layer to a detector law on DATA's clips (resonators unchanged)."""
    from dataclasses import replace

    from .train import load_dataset
    from .train.law_readout import GainMode, refit_law_readout

    _check_output_file(out_path, "-o")
    compiler.check_model_path(out_path)
    options = _law_options(nvt_text, rate_text, clip_text, hold_text, GainMode(gain_mode), peak_text, x_rms, seed)
    options = replace(options, max_weight=_max_weight(max_weight_text, options.max_weight))
    model = compiler.load_model(model_path)
    result = refit_law_readout(model, load_dataset(data_path), options, progress=True)
    compiler.save_model(result.model, out_path)
    gains = result.gains
    for line in metric_lines({"law": f"{law} (n·Vt {options.nvt:.4g} V, k {options.rate:.4g} 1/s, clip "
                                     f"{options.clip:g} V, hold {'none' if options.hold is None else f'{options.hold:.4g} s'})",
                              "gains": f"{gain_mode}, {gains.min():.4g} … {gains.max():.4g} V per node unit",
                              "l2": result.l2, "max_abs_weight_per_v": result.max_abs_weight,
                              "train_accuracy": result.train_accuracy}):
        click.echo(line)
    click.echo(f"wrote {out_path}")


def _max_weight(text: str | None, default: float | None) -> float | None:
    """``--max-weight``: a number > 0 (1/V), 'none', or None (``default``); UsageError otherwise."""
    if text is None:
        return default
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise UsageError(f"--max-weight: expected a number > 0 (per volt) or 'none', got {text!r}")
    return value


def _law_options(nvt_text, rate_text, clip_text, hold_text, gain, peak_text, x_rms, seed):
    """The refit's LawOptions from the command line (UsageError naming the option)."""
    from .train.law_readout import LawOptions, recommended_law
    from .units import parse_quantity

    def quantity(text: str, option: str, unit: str | None) -> float:
        try:
            q = parse_quantity(text)
        except ValueError as exc:
            raise UsageError(f"{option}: {exc}") from None
        if q.unit not in (None, unit) or not q.value > 0:
            raise UsageError(f"{option}: expected a value > 0{f' in {unit}' if unit else ''}, got {text!r}")
        return q.value

    nvt0, rate0, hold0 = recommended_law()
    clip = quantity(clip_text, "--clip", "V")
    hold = None if hold_text is not None and hold_text.strip().lower() == "none" else (
        hold0 if hold_text is None else quantity(hold_text, "--hold", "s"))
    peak = clip if peak_text is None else quantity(peak_text, "--peak-v", "V")
    if gain.value == "common" and peak > clip:
        raise UsageError(f"--peak-v: {peak:g} V is beyond --clip {clip:g} V (the taps would clip)")
    return LawOptions(nvt=nvt0 if nvt_text is None else quantity(nvt_text, "--nvt", "V"),
                      rate=rate0 if rate_text is None else quantity(rate_text, "--law-rate", "Hz"),
                      clip=clip, hold=hold, gain=gain, peak_v=peak, x_rms=x_rms, seed=seed)


@main.command(name="tolerance")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("outdir", metavar="OUTDIR", type=click.Path(file_okay=False))
@click.argument("more_signals", nargs=-1, metavar="[SIGNAL...]", type=click.Path())
@click.option("--signals", "signal_paths", multiple=True, type=click.Path(),
              help="Signal file or directory (repeatable). Folders named after a class label their signals.")
@click.option("--tol", "tol_text", default=DEFAULT_TOLERANCES, show_default=True,
              help="Part tolerances per kind, or 'bom': each part's own from OUTDIR/bom.csv (parts it "
                   "gives none stay exact).")
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

    _check_output_file(json_path, "--json")
    model = compiler.load_model(model_path)
    own = None
    if tol_text.strip().lower() == "bom":
        from .verify.tolerance import bom_tolerances

        own = bom_tolerances(outdir)
    report = compiler.tolerance(model, outdir, list(signal_paths) + list(more_signals),
                                {} if own is not None else parse_tolerances(tol_text),
                                rate_hz=rate, runs=runs, seed=seed, distribution=distribution,
                                spot_checks=spot_checks, workers=workers, progress=True, scheduler=scheduler,
                                part_tolerances=own)
    data = report.to_json()
    if json_path:
        from .fileutil import write_text_atomic

        write_text_atomic(json_path, json.dumps(data, indent=1) + "\n")
    tols = (", ".join(f"{k} ±{100 * v:g}%" for k, v in report.tolerances.items()) if own is None
            else f"each part's own BOM tolerance, {len(own)} parts")
    a = data["agreement"]
    click.echo(f"{report.runs} draws ({report.distribution}, {tols}); nominal agreement "
               f"{100 * report.nominal_agreement:.1f} %")
    click.echo(f"class agreement with the reference: mean {100 * a['mean']:.1f} %, 5th percentile "
               f"{100 * a['p5']:.1f} %, 95th percentile {100 * a['p95']:.1f} %")
    if data["accuracy"] is not None:
        acc = data["accuracy"]
        click.echo(f"accuracy (folder labels): mean {100 * acc['mean']:.1f} %, 5th percentile "
                   f"{100 * acc['p5']:.1f} %, 95th percentile {100 * acc['p95']:.1f} % (reference model "
                   f"{100 * report.reference_accuracy:.1f} %)")
    click.echo("most sensitive parts (±tol one at a time):")
    scores = model.readout.is_linear  # a linear layer's scores move by absolute amounts
    rows = [[row["designator"], format_si(row["value"], {"R": "ohm", "L": "H", "C": "F"}[row["kind"]]),
             (f"scores move {row['feature_change']:.3g}" if scores
              else f"features move {100 * row['feature_change']:.2f} %") + f", flips {row['decisions_flipped']}",
             f"({row['origin']})"]
            for row in report.sensitivity]
    for line in table_lines(rows, "<><<", indent="  "):
        click.echo(line)
    for check in report.spot_checks:
        click.echo(f"ngspice spot check, draw {check['draw']}: {check['decisions_agree']}/{check['signals']} "
                   f"decisions as the MNA predicts, NRMSE ngspice vs MNA {check['ngspice_vs_mna_nrmse']:.2e}")


if __name__ == "__main__":  # pragma: no cover
    main()
