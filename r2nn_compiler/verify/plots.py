"""Overlay plots of a verification: circuit vs reference waveforms per signal, and Bode."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plots import plot_bode, save_figure

#: Waveform plots are written for at most this many signals (the first ones).
MAX_WAVEFORM_PLOTS = 20


def write_plots(model, report, plot_dir: str | Path) -> list[Path]:
    """Write ``<signal>.png`` overlays and ``bode.png``; returns the paths written."""
    import matplotlib.pyplot as plt

    out = Path(plot_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for s in report.signals[:MAX_WAVEFORM_PLOTS]:
        t = np.arange(s.reference_outputs.shape[1]) / s.rate_hz
        fig, axes = plt.subplots(len(model.outputs), 1, sharex=True, figsize=(9, 1.8 + 1.6 * len(model.outputs)),
                                 squeeze=False)
        for j, o in enumerate(model.outputs):
            ax = axes[j, 0]
            ax.plot(t, s.reference_outputs[j], lw=1.2, label="reference")
            ax.plot(t, s.circuit_outputs[j], "--", lw=0.9, label="ngspice")
            ax.set_ylabel(f"{o.cls}\n(m/s)")
            ax.set_title(f"{o.cls}: NRMSE {s.nrmse[o.cls]:.2e}", fontsize="small", loc="right")
            ax.axvspan(model.readout.start, model.readout.stop, color="0.92", zorder=0)
        axes[0, 0].legend(loc="upper left", fontsize="small")
        axes[-1, 0].set_xlabel("model time (s)")
        fig.suptitle(f"{Path(s.path).name}: reference {s.reference_class}, circuit {s.circuit_class}")
        fig.tight_layout()
        path = out / f"{_stem(s.path)}.png"
        save_figure(fig, path)
        written.append(path)
    if report.ac_data is not None:
        freqs, h_circ, h_ref = report.ac_data
        path = out / "bode.png"
        plot_bode(model, freqs, h_ref, path, overlay=h_circ, overlay_label="ngspice")
        written.append(path)
    return written


def _stem(path: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(path).stem)[:60] or "signal"
