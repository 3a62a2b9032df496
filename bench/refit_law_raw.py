"""The law-trained tactile layer refitted on its raw readings (volts, not standardised), for the micropower deck.

examples/tactile/make_micropower.py (default pick: one common gain, the largest training tap at the
1.6 V clip) fits on standardised readings; a quiet feature (readings varying by mV) then gets a
weight of hundreds per volt (up to 321/V), which no analog sum with mV offsets can realise. This
refits the same readings unstandardised, so L2 bounds the weights in 1/V, at several L2 weights;
it prints weight size and accuracy and writes OUT_<l2>.r2nn for each.

Usage: python bench/refit_law_raw.py MODEL OUT   (MODEL: make_micropower.py's output)
"""
import sys, time
from dataclasses import replace
import numpy as np
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'examples')); sys.path.insert(0, str(ROOT))
from demo_data import demo_dataset
from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset
from r2nn_compiler import reference
from r2nn_compiler.compiler import load_model, save_model
from r2nn_compiler.model.ir import ClassScore
from r2nn_compiler.train import logistic
data, _ = demo_dataset("tactile", SEED, PER_CLASS["tactile"])
tr, te = data.split(TEST_FRACTION, SEED + 1)
train, test = subset(data, tr), subset(data, te)
m = load_model(sys.argv[1])
t0 = time.time()
psi_tr = reference.layer_features(m, train.signals, train.sample_rate_hz)
psi_te = reference.layer_features(m, test.signals, test.sample_rate_hz)
print("readings", time.time() - t0, "s; range", psi_tr.min(), psi_tr.max(), "std min", psi_tr.std(0).min())
mean = psi_tr.mean(0)
z = psi_tr - mean
labels = np.asarray(train.labels); n = len(m.readout.classes)
for l2 in (1e-4, 1e-3, 1e-2, 1e-1):
    fit = logistic.fit(z, labels, n, l2)
    w = fit.weights; b = fit.bias - w @ mean
    acc_te = np.mean(np.argmax(psi_te @ w.T + b, 1) == np.asarray(test.labels))
    acc_tr = np.mean(np.argmax(psi_tr @ w.T + b, 1) == labels)
    print(f"l2 {l2:g}: max|A| {np.abs(w).max():.3g}, train {acc_tr:.3f}, held-out {acc_te:.3f}")
    names = [f.name for f in m.readout.features]
    classes = tuple(ClassScore(c.cls, float(bb), tuple((nm, float(x)) for nm, x in zip(names, row)))
                    for c, bb, row in zip(m.readout.classes, b, w))
    save_model(replace(m, readout=replace(m.readout, classes=classes)), f'{sys.argv[2]}_{l2:g}.r2nn')
