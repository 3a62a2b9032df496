"""Overlay plots of a verification: circuit vs reference waveforms per signal, Bode, and for a
deck with an on-circuit readout the decision lines over time (``decisions.png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..passes.base import observed_nodes
from ..plots import plot_bode, save_figure

#: Waveform plots are written for at most this many signals (the first ones).
MAX_WAVEFORM_PLOTS = 20
#: ``decisions.png`` shows this many signals (the first ones), one row each.
MAX_DECISION_ROWS = 4


def write_plots(model, report, plot_dir: str | Path) -> list[Path]:
    """Write ``<signal>.png`` overlays and ``bode.png``; returns the paths written."""
    import matplotlib.pyplot as plt

    out = Path(plot_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    observed = observed_nodes(model)
    for s in report.signals[:MAX_WAVEFORM_PLOTS]:
        t = np.arange(s.reference_outputs.shape[1]) / s.rate_hz
        fig, axes = plt.subplots(len(observed), 1, sharex=True, figsize=(9, 1.8 + 1.6 * len(observed)),
                                 squeeze=False)
        for j, o in enumerate(observed):
            ax = axes[j, 0]
            ax.plot(t, s.reference_outputs[j], lw=1.2, label="reference")
            ax.plot(t, s.circuit_outputs[j], "--", lw=0.9, label="ngspice")
            ax.set_ylabel(f"{o.label}\n(m/s)")
            name = o.what if o.role == "tap" else o.label
            ax.set_title(f"{name}: NRMSE {s.nrmse[o.label]:.2e}", fontsize="small", loc="right")
            ax.axvspan(model.readout.start, model.readout.stop, color="0.92", zorder=0)
        axes[0, 0].legend(loc="upper left", fontsize="small")
        axes[-1, 0].set_xlabel("model time (s)")
        fig.suptitle(f"{Path(s.path).name}: reference {s.reference_class}, circuit {s.circuit_class}")
        fig.tight_layout()
        path = out / f"{_stem(s.path)}.png"
        save_figure(fig, path)
        written.append(path)
    traced = [s for s in report.signals if s.decision_traces is not None][:MAX_DECISION_ROWS]
    if traced:
        path = out / "decisions.png"
        plot_decisions(traced, path)
        written.append(path)
    if report.ac_data is not None:
        freqs, h_circ, h_ref = report.ac_data
        path = out / "bode.png"
        plot_bode(model, freqs, h_ref, path, overlay=h_circ, overlay_label="ngspice",
                  rows=[o.what if o.role == "tap" else o.label for o in observed])
        written.append(path)
    return written


def plot_decisions(signals, path: Path) -> None:
    """One row per signal: the detectors (mean square so far, V) and the decision ports (V)
    against circuit time, the readout window shaded and the moment the decision is read
    (``valid_after_s``) marked; the title names the reference's class and the circuit's."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(signals), 2, figsize=(11, 0.6 + 2.3 * len(signals)), squeeze=False)
    for row, s in zip(axes, signals):
        tr = s.decision_traces
        t = np.asarray(tr["time_s"])
        shown = decision_span(tr, t)
        detector = "score (V)" if s.scores else "detector (V)"
        panels = [("detector_volts", detector), ("port_volts", "decision port (V)")]
        for ax, (key, label) in zip(row, panels):
            for cls, v in tr.get(key, {}).items():
                ax.plot(t[shown], np.asarray(v)[shown], lw=1.3 if cls == s.reference_class else 0.9, label=cls)
            if "window_s" in tr:
                ax.axvspan(*tr["window_s"], color="0.93", zorder=0)
            ax.axvline(tr["valid_after_s"], color="k", lw=0.7, ls=":")
            ax.set_xlim(t[shown][0], t[shown][-1])
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        row[1].axhline(0.5 * max(tr["high_volts"]), color="0.5", lw=0.6, ls="--")
        row[0].set_title(f"{Path(s.path).name}: reference {s.reference_class}", fontsize="small", loc="left")
        row[1].set_title(f"decided on the circuit: {s.circuit_class}", fontsize="small", loc="left")
    axes[0, 1].legend(loc="upper left", fontsize="x-small", ncol=2)
    for ax in axes[-1]:
        ax.set_xlabel("circuit time (s)")
    fig.suptitle("on-circuit readout in ngspice: detectors and decision ports (window shaded, ':' decision read)",
                 fontsize="medium")
    fig.tight_layout()
    save_figure(fig, path)


def decision_span(traces: dict, t: np.ndarray) -> np.ndarray:
    """The samples of ``t`` (s) a decision row shows: all of them, or, when the decision stage
    runs only after the window (a power-gated readout: window end to ``valid_after_s`` under 5 %
    of the trace), that stage with as much of the window's end before it, so its lines can be read."""
    after = traces["valid_after_s"] - traces.get("window_s", (0.0, traces["valid_after_s"]))[1]
    if not 0 < after < 0.05 * (t[-1] - t[0]):
        return np.ones(t.size, dtype=bool)
    return t >= traces["valid_after_s"] - 2 * after


def _stem(path: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(path).stem)[:60] or "signal"
