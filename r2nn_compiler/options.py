"""Option texts of the command line → the options dataclasses (:class:`CompileOptions`, the
values :class:`train.TrainOptions` takes).

Every parser raises :class:`UsageError` (exit code 2) naming the option, one line, before any
work is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backend.kicad import Footprints, load_footprints
from .errors import Location, UsageError
from .passes import CompileOptions
from .units import parse_quantity


def usage(option: str, message: str) -> UsageError:
    """The error for a bad value of ``option``: ``<option>: <message>``."""
    return UsageError(message, Location(parameter=option))


def parse_band(text: str, option: str = "--band-hz") -> tuple[float, float]:
    """``LO:HI`` in Hz with 0 < LO < HI."""
    lo, sep, hi = text.partition(":")
    try:
        band = (float(lo), float(hi))
    except ValueError:
        band = None
    if not sep or band is None or not 0 < band[0] < band[1]:
        raise usage(option, f"expected LO:HI in Hz with 0 < LO < HI, got {text!r}")
    return band


def parse_flow(text: str | None) -> list[str] | None:
    """``--flow``: comma-separated pass names (None: the default flow)."""
    return [p.strip() for p in text.split(",") if p.strip()] if text is not None else None


def parse_series(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """``--series KIND=SERIES,...``: (series per kind R/L/C, series per designator), upper case."""
    per_kind: dict[str, str] = {}
    per_designator: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise usage("--series", f"expected KIND=SERIES (e.g. R=E96), got {item!r}")
        if key.strip().upper() in ("R", "L", "C"):
            per_kind[key.strip().upper()] = value.strip().upper()
        else:
            per_designator[key.strip()] = value.strip().upper()
    return per_kind, per_designator


def parse_opamp_params(items: tuple[str, ...] | list[str]) -> dict[str, float]:
    """``--opamp-param KNOB=VALUE`` (repeatable; SI prefixes allowed): the knobs by name. The
    knob names are checked by the op-amp model, not here."""
    params: dict[str, float] = {}
    for item in items:
        knob, sep, value = item.partition("=")
        try:
            params[knob.strip()] = parse_quantity(value).value if sep else None
        except ValueError:
            sep = ""
        if not sep or params[knob.strip()] is None:
            raise usage("--opamp-param", f"expected KNOB=VALUE (e.g. quiescent_a=60u), got {item!r}")
    return params


@dataclass(frozen=True)
class CompileArgs:
    """``r2nn compile``'s option values as click hands them over (texts unparsed)."""

    exact: bool = False
    band_text: str | None = None
    series_text: str | None = None
    strategy: str = "retune"
    pair_target: float = 1e-3
    opamp: str = "macro"
    gbw_hz: float | None = None
    opamp_param_text: tuple[str, ...] = ()
    single_inductors: bool = False
    parasitics: bool = False  # --parasitics: model the parts' losses
    ideal_parts: bool = False  # --ideal-parts: no parasitics (the default for now, said explicitly)
    inductor_q: float = 50.0
    inductors: str = "passive"
    readout: str = "none"
    drive: str | None = None  # None: parts with --readout analog, else ideal
    robust_parts: bool = True
    robust_rule: str = "band_rms"  # --robust-parts-by: band_rms or decisions
    no_calibrate: bool = False
    calibrating: bool = False  # --calibrate-signals given (they are loaded once the model is)
    kicad: bool = False
    footprints_path: str | None = None


def compile_options(args: CompileArgs) -> CompileOptions:
    """The :class:`CompileOptions` of ``args`` (calibration signals not loaded yet). Raises
    UsageError for the first bad or contradictory option."""
    if args.ideal_parts and args.parasitics:
        raise usage("--ideal-parts", "contradicts --parasitics")
    if args.robust_rule == "decisions" and not args.calibrating:
        raise usage("--robust-parts-by decisions", "needs --calibrate-signals (the clips whose decisions it keeps)")
    if args.exact and args.inductors != "passive":
        raise UsageError("--inductors gic builds parts and op-amps: it needs the hardware flow, not --exact")
    options = CompileOptions(exact=args.exact, strategy=args.strategy, pair_target=args.pair_target,
                             opamp=args.opamp, parasitics=args.parasitics, inductor_q=args.inductor_q,
                             inductors=args.inductors, readout=args.readout, calibrate=not args.no_calibrate,
                             drive=args.drive, robust_parts=args.robust_parts,
                             robust_rule=args.robust_rule)
    if args.band_text is not None:
        options.band_hz = parse_band(args.band_text)
    if args.series_text is not None:
        per_kind, per_designator = parse_series(args.series_text)
        options.series.update(per_kind)
        options.series_overrides.update(per_designator)
    if args.gbw_hz is not None:
        options.opamp_params["gbw_hz"] = args.gbw_hz
    options.opamp_params.update(parse_opamp_params(args.opamp_param_text))
    options.pair_inductors = not args.single_inductors
    if args.calibrating and args.no_calibrate:
        raise usage("--calibrate-signals", "contradicts --no-calibrate")
    return options


def kicad_footprints(args: CompileArgs) -> Footprints | None:
    """The footprints of ``--kicad`` (``--footprints FILE`` over the defaults; the file implies
    ``--kicad``), or None without either. Raises UsageError for an unreadable or bad file."""
    if not args.kicad and args.footprints_path is None:
        return None
    return load_footprints(args.footprints_path)


def parse_segments(text: str) -> int | tuple[float, ...] | None:
    """``--segments``: ``auto`` (None), a count K >= 1, or at least two increasing boundaries >= 0 in s."""
    if text.strip() == "auto":
        return None
    if "," not in text:
        try:
            count = int(text)
        except ValueError:
            count = 0
        if count >= 1:
            return count
    else:
        try:
            quantities = [parse_quantity(item) for item in text.split(",")]
            bounds = tuple(q.value for q in quantities if q.unit in (None, "s"))
        except ValueError:
            bounds = ()
        if len(bounds) == len(text.split(",")) >= 2 and bounds[0] >= 0 and all(
                b1 > b0 for b0, b1 in zip(bounds, bounds[1:])):
            return bounds
    raise usage("--segments", f"expected auto, a count K >= 1 or increasing boundaries in s "
                              f"(e.g. 0,0.15,0.3,0.5), got {text!r}")


def parse_frequencies(text: str) -> tuple[float, ...]:
    """``--frequencies F1,F2,...``: positive frequencies in Hz (SI prefixes allowed)."""
    try:
        quantities = [parse_quantity(item) for item in text.split(",") if item.strip()]
        values = tuple(q.value for q in quantities if q.unit in (None, "Hz") and q.value > 0)
    except ValueError:
        quantities, values = [], ()
    if not values or len(values) != len(quantities):
        raise usage("--frequencies", f"expected comma-separated frequencies in Hz (e.g. 105,159.2,1.2k), "
                                     f"got {text!r}")
    return values
