"""Plots people would rather see than read: waveforms and Bode diagrams (matplotlib, PNG).

Imported lazily by the CLI so that plain runs do not pay for matplotlib.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .fileutil import write_bytes_atomic  # noqa: E402


def save_figure(fig, path: str | Path) -> None:
    """Save ``fig`` as PNG atomically and close it."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def plot_waveforms(result, path: str | Path, labels: list[str] | None = None, title_note: str = "") -> None:
    """Input(s) and output velocities of one reference simulation, readout window shaded.
    ``labels`` names the rows of ``result.outputs`` (default: each output's class, node and
    feature); ``title_note`` follows the title."""
    model = result.model
    t = result.times_s
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(9, 5.5))
    for k, inp in enumerate(model.inputs):
        axes[0].plot(t, result.signal.data[k], lw=0.7, label=inp.name)
    axes[0].set_ylabel("input u")
    axes[0].legend(loc="upper right")
    if labels is None:
        labels = [f"{out.cls} ({out.node}): {result.features[j]:.3g}" + (" ← predicted" if out.cls == result.predicted
                                                                          else "") for j, out in enumerate(model.outputs)]
    for j, label in enumerate(labels):
        axes[1].plot(t, result.outputs[j], lw=0.7, label=label)
    for ax in axes:
        ax.axvspan(model.readout.start, model.readout.stop, color="0.9", zorder=0)
    axes[1].set_ylabel("velocity (m/s)")
    axes[1].set_xlabel("time (s)")
    # Many rows (a layer reading 24 resonators) go in columns below the axes, not over the traces.
    if len(labels) > 8:
        axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=-(-len(labels) // 8), fontsize="x-small")
        fig.set_size_inches(9, 5.5 + 0.18 * 8)
    else:
        axes[1].legend(loc="upper right", fontsize="small")
    fig.suptitle(f"{model.name}: {Path(result.signal.path).name}{title_note}")
    fig.tight_layout()
    save_figure(fig, path)


def plot_bode(model, freqs_hz: np.ndarray, h: np.ndarray, path: str | Path, overlay: np.ndarray | None = None,
              overlay_label: str = "circuit", rows: list[str] | None = None) -> None:
    """Magnitude (dB) and phase of every output/input pair; ``overlay`` (same shape) dashed.
    ``rows`` names h's rows (default: the outputs' classes; e.g. a linear layer's taps)."""
    fig, (mag_ax, ph_ax) = plt.subplots(2, 1, sharex=True, figsize=(9, 6))
    for j, row in enumerate(rows if rows is not None else [o.cls for o in model.outputs]):
        for k, inp in enumerate(model.inputs):
            label = f"{row} ← {inp.name}"
            line, = mag_ax.semilogx(freqs_hz, 20 * np.log10(np.abs(h[j, k]) + 1e-300), label=label)
            ph_ax.semilogx(freqs_hz, np.degrees(np.angle(h[j, k])), color=line.get_color())
            if overlay is not None:
                mag_ax.semilogx(freqs_hz, 20 * np.log10(np.abs(overlay[j, k]) + 1e-300), "--",
                                color=line.get_color(), label=f"{label} ({overlay_label})")
                ph_ax.semilogx(freqs_hz, np.degrees(np.angle(overlay[j, k])), "--", color=line.get_color())
    mag_ax.set_ylabel("|H| (dB re 1 (m/s)/unit)")
    ph_ax.set_ylabel("phase (deg)")
    ph_ax.set_xlabel("frequency (Hz)")
    mag_ax.legend(fontsize="small")
    mag_ax.grid(True, which="both", alpha=0.3)
    ph_ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"{model.name}: frequency response")
    fig.tight_layout()
    save_figure(fig, path)
