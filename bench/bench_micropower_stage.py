"""Where a micropower deck's score error comes from: the sums' outputs split into their causes.

Runs ``r2nn verify`` (in process, ngspice, ``--accuracy 0.01``, no refinement, no .ac) on each
CLIP with the deck in OUT, saving besides the score nets every cell capacitor ``c<f>``, every
follower output ``fo<f>``, every summing node ``s<j>``, the sums' level ``vs`` (or ``vr``) and the
switched rail ``vp``, at the window's end and at the decision. With the deck's own resistor
values (read from its ``.lib``) each sum's output is, by KCL at its summing node,

    o_j = s_j (1 + W_j + b_j) − Σ_f w_jf fo_f − b_j V_bj        (w = Rf/R as realised)

so o_j − (K + a·u_j(ψ_law)) (ψ_law: the diode law on the circuit's own taps, verify's
``layer_features_circuit``) splits exactly into, in mV at the sum's output:

* ``cells``: −Σ w_jf (ψ_f(t_end) − ψ_law,f): the cells' reading at the window's end against the law;
* ``droop``: −Σ w_jf (ψ_f(t_dec) − ψ_f(t_end)): the readings' change while the stage settles
  (ψ_f = c_f less the cells' common plate ``cl`` of a lifted deck, else c_f);
* ``followers``: −Σ w_jf e_0 and ``knee``: −Σ w_jf (fo_f − c_f − e_0) at the decision, e_0 the
  smallest follower error fo_f − c_f of the clip (their common offset; the knee: a follower whose
  output is within ~10 mV of ground, the LPV802 class's swing, reads higher);
* ``node``: (s_j − v_s)(1 + W_j + b_j): the sum's own input error (offset, finite gain) × noise gain;
* ``level``: (v_s − v_s,design)(1 + W_j + b_j), lifted (1 + b_j), and ``rail``: −b_j (V_bj − V_bj,design), V_bj the
  switched rail or ground;
* ``resistors``: the E96 weights as realised against the design's w = a (c − A).

The columns are also given in score units (÷ a) for the difference between the reference's two
top classes, the figure that decides a close clip.

Usage: python bench/bench_micropower_stage.py OUT CLIP [CLIP ...] [--model examples/tactile/micropower.r2nn]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from r2nn_compiler.compiler import load_model, verify
from r2nn_compiler.verify import decisions

PARTS = ("cells", "droop", "followers", "knee", "node", "level", "rail", "resistors")


def extra_nets(manifest: dict, lib: str) -> list[str]:
    """The readout's internal nets saved besides the score nets (those of the deck's ``lib``)."""
    n_f = len(manifest["readout_circuit"]["features"])
    n_c = len(manifest["decisions"])
    body = lib.split(".subckt r2nn_readout")[1].split(".ends")[0]
    present = {n for line in body.splitlines() for n in line.split()[1:4]}
    return ([f"c{f}" for f in range(1, n_f + 1)] + [f"fo{f}" for f in range(1, n_f + 1)]
            + [f"s{j}" for j in range(1, n_c + 1)] + [n for n in ("vs", "vr", "vp", "cl") if n in present])


def patch(manifest: dict, lib: str, store: list[dict]) -> None:
    """Make verify save and read the extra nets (x<copy>.<readout instance>.<net>) at the
    window's end and at the decision."""
    window_end = manifest["readout_circuit"]["window_s"][1]
    inst = manifest["readout_circuit"]["instance"].lower()
    nets = extra_nets(manifest, lib)
    vectors, evaluate = decisions.detector_vectors, decisions.evaluate

    def more_vectors(m: dict, copy: int) -> list[str]:
        return vectors(m, copy) + [f"v(x{copy + 1}.{inst}.{n})" for n in nets]

    def evaluate_more(plot, m: dict, copy: int, copies: int) -> dict:
        result = evaluate(plot, m, copy, copies)
        t = np.real(plot.get("time"))
        at = decisions.decision_time(m)
        values = {}
        for n in nets:
            try:
                v = np.real(plot.get(f"v(x{copy + 1}.{inst}.{n})"))
            except Exception:  # noqa: BLE001 (a net the deck does not have: vs without a divider)
                continue
            values[n] = (float(np.interp(window_end, t, v)), float(np.interp(at, t, v)))
        store.append(values)
        return result

    decisions.detector_vectors, decisions.evaluate = more_vectors, evaluate_more


def resistors(lib: str) -> dict[str, tuple[str, str, float]]:
    """The readout subcircuit's resistors: name → (node a, node b, ohms)."""
    body = lib.split(".subckt r2nn_readout")[1].split(".ends")[0]
    out = {}
    for line in body.splitlines():
        p = line.split()
        if p and p[0].startswith("R"):
            out[p[0]] = (p[1], p[2], float(p[3]))
    return out


def realised(res: dict, name: str) -> tuple[float, str] | None:
    """(ohms, far node) of a weight resistor realised as one part or a series pair."""
    if name in res:
        return res[name][2], res[name][0]
    if name + "a" in res:
        return res[name + "a"][2] + res[name + "b"][2], res[name + "a"][0]
    return None


def split(model, manifest: dict, res: dict, law: np.ndarray, v: dict) -> tuple[np.ndarray, np.ndarray]:
    """(parts: classes × PARTS in V, total measured − design in V) of one clip (long because it
    writes out the KCL bookkeeping of the module docstring, one term per line)."""
    _, biases, matrix = model.readout.feature_matrix()
    a_mat, beta = np.array(matrix), np.array(biases)
    scale = manifest["readout_circuit"]["score_scale"]
    a, (low, _) = scale["volts_per_unit_score"], scale["score_interval"]
    k = 0.2 - a * low
    c = a_mat.max(axis=0)
    vsd = scale["sum_reference_volts"]
    level = "cl" if "cl" in v else "vs" if "vs" in v and "Rs1" in res else "vr"
    lift = level == "cl"
    n_c, n_f = a_mat.shape
    cells_end = np.array([v[f"c{f}"][0] for f in range(1, n_f + 1)])
    cells_dec = np.array([v[f"c{f}"][1] for f in range(1, n_f + 1)])
    fo = np.array([v[f"fo{f}"][1] for f in range(1, n_f + 1)])
    parts, total = np.zeros((n_c, len(PARTS))), np.zeros(n_c)
    e0 = float(np.min(fo - cells_dec))
    base = v["cl"] if lift else (0.0, 0.0)  # the cells' common plate at the window's end and at the decision
    for j in range(1, n_c + 1):
        rf = res[f"Rf{j}"][2]
        w = np.zeros(n_f)
        for f in range(1, n_f + 1):
            r = realised(res, f"Rw{j}_{f}")
            w[f - 1] = rf / r[0] if r else 0.0
        rb = realised(res, f"Rb{j}")
        b = rf / rb[0] if rb else 0.0
        rail = rb is not None and rb[1] == "vp"
        vb_design, vb = (3.3, v["vp"][1]) if rail else (0.0, 0.0)
        gain = 1 + w.sum() + b
        s_j, vs = v[f"s{j}"][1], v[level][1]
        design = k + a * (beta[j - 1] + (a_mat[j - 1] - c) @ law)
        # the realised resistors on the law's readings (lifted: the followers read v_s + ψ)
        ideal_real = vsd * gain - w @ (law + (vsd if lift else 0.0)) - b * vb_design
        read_end, read_dec = cells_end - base[0], cells_dec - base[1]
        parts[j - 1] = [-w @ (read_end - law), -w @ (read_dec - read_end), -w.sum() * e0, -w @ (fo - cells_dec - e0),
                        (s_j - vs) * gain, (vs - vsd) * (gain - (w.sum() if lift else 0.0)), -b * (vb - vb_design),
                        ideal_real - design]
        total[j - 1] = v.get(f"sc{j}", (0, np.nan))[1] - design
    return parts, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("clips", nargs="+")
    ap.add_argument("--model", default="examples/tactile/micropower.r2nn")
    args = ap.parse_args()
    model = load_model(args.model)
    manifest = json.loads((Path(args.out) / "manifest.json").read_text())
    lib = next(Path(args.out).glob("*.lib")).read_text()
    res = resistors(lib)
    store: list[dict] = []
    patch(manifest, lib, store)
    names = [f.name for f in model.readout.features]
    print(f"deck {args.out}: rule {manifest['readout_circuit']['score_scale']['rule']}, "
          f"{manifest['readout_circuit']['score_scale']['mv_per_unit_score']:.1f} mV per score unit; "
          f"load {os.getloadavg()[0]:.1f}")
    for clip in args.clips:
        store.clear()
        report = verify(model, args.out, [clip], run_ac=False, accuracy=0.01, refine=False, workers=1)
        sig = report.signals[0]
        v = store[0]
        for j, cls in enumerate(model.classes, start=1):
            v[f"sc{j}"] = (np.nan, sig.decision["detector_volts"][cls])
        law = np.array([sig.layer_features_circuit[n] for n in names])
        parts, total = split(model, manifest, res, law, v)
        ref = np.array([sig.features_reference[c] for c in model.classes])
        top = np.argsort(ref)[::-1][:2]
        a = manifest["readout_circuit"]["score_scale"]["volts_per_unit_score"]
        print(f"\n{clip}: reference {model.classes[top[0]]} by {ref[top[0]] - ref[top[1]]:.3f} over "
              f"{model.classes[top[1]]}; circuit {sig.decision['class']}")
        print(f"{'class':>14} " + " ".join(f"{p:>9}" for p in PARTS) + f" {'sum':>9} {'measured':>9}  (mV)")
        for j, cls in enumerate(model.classes):
            print(f"{cls:>14} " + " ".join(f"{1e3 * x:9.2f}" for x in parts[j])
                  + f" {1e3 * parts[j].sum():9.2f} {1e3 * total[j]:9.2f}")
        diff = (parts[top[0]] - parts[top[1]]) / a
        print(f"{'top − second':>14} " + " ".join(f"{x:9.3f}" for x in diff)
              + f" {diff.sum():9.3f} {(total[top[0]] - total[top[1]]) / a:9.3f}  (score units)")


if __name__ == "__main__":
    main()
