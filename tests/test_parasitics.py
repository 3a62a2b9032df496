"""parasitics: inductor series resistance and capacitor ESR, with each resonator's f0 and Q restored."""

import dataclasses
import math

import pytest

from r2nn_compiler.compiler import load_model
from r2nn_compiler.model import Coupling, Input, Model, Output, Readout, Resonator
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.parasitics import band_centre_rad_s
from r2nn_compiler.passes.common.tanks import IN_SERIES_WITH, resonator_tanks

from .conftest import TOY
from .strategies import random_stable_model

FLOW = ["map_force_current", "map_force_voltage", "scale", "parasitics"]


def lossy(model: Model, **options) -> CompileContext:
    options.setdefault("parasitics", True)
    return run_flow(CompileContext(model, CompileOptions(band_hz=(1e3, 40e3), check_freqs=60, **options)), FLOW)


def entry(ctx: CompileContext):
    return next(e for e in ctx.log if e.name == "parasitics")


def losses(ctx: CompileContext) -> list:
    return [c for c in ctx.graph.components if c.attrs.get("role") == "parasitic"]


def test_does_nothing_unless_asked():
    ctx = lossy(load_model(TOY), parasitics=False)
    assert [e.name for e in ctx.log] == ["map_force_current", "scale"]
    assert not losses(ctx)


def test_every_inductor_gets_its_series_resistance_and_every_capacitor_its_esr():
    ctx = lossy(load_model(TOY), inductor_q=40.0, cap_esr_ohm=0.1)
    w_c = band_centre_rad_s(ctx)
    assert w_c == pytest.approx(2 * math.pi * math.sqrt(1e3 * 40e3))
    by_element = {r.attrs[IN_SERIES_WITH]: r for r in losses(ctx)}
    inductors, capacitors = ctx.graph.components_of("L"), ctx.graph.components_of("C")
    assert set(by_element) == {c.name for c in inductors + capacitors}
    for ind in inductors:
        assert by_element[ind.name].value == pytest.approx(w_c * ind.value / 40.0, rel=1e-12)
        assert by_element[ind.name].part.series == "parasitic"
    for cap in capacitors:
        assert by_element[cap.name].value == 0.1
    # In series: the loss shares one net with its element and nothing else.
    for res in losses(ctx):
        element = ctx.graph.component(res.attrs[IN_SERIES_WITH])
        mid = set(res.nodes) & set(element.nodes)
        assert len(mid) == 1 and len(ctx.graph.components_at(mid.pop())) == 2


@pytest.mark.parametrize("analogy", ["force_current", "force_voltage"])
def test_compensation_restores_each_resonators_f0_and_q(analogy):
    model = dataclasses.replace(random_stable_model(2, n=3), analogy=analogy)
    ctx = lossy(model)
    for tank, r in zip(resonator_tanks(ctx.model, ctx.graph), model.resonators):
        f0, q = tank.f0_q(ctx.time_scale)
        assert f0 == pytest.approx(r.f0_hz, rel=1e-9) and q == pytest.approx(r.q, rel=1e-9)
    resonators = entry(ctx).details["resonators"]
    assert max(abs(r["q_lossy"] / r["q"] - 1) for r in resonators) > 0.1  # the losses did matter


def test_force_voltage_losses_in_the_loop_compensate_almost_exactly():
    model = dataclasses.replace(load_model(TOY), analogy="force_voltage")
    details = entry(lossy(model)).details
    # Only the coupling capacitor's ESR stays uncompensated.
    assert details["h_relative_error"] < 1e-3 < details["h_relative_error_lossy"]


def test_force_current_compensation_reduces_the_error():
    details = entry(lossy(load_model(TOY))).details
    assert details["h_relative_error"] < 0.2 * details["h_relative_error_lossy"]


def test_losses_beyond_the_tanks_damping_leave_a_negative_resistor():
    # The toy's resonator a (100 Hz, Q 31) sits low in the band, where Q_L = 50 at the centre is
    # only about 8: its damping must turn negative.
    ctx = lossy(load_model(TOY))
    negative = entry(ctx).details["negative_damping"]
    assert negative and all(ctx.graph.component(n).value < 0 for n in negative)
    assert f"negative damping left for realise_negative: {', '.join(negative)}" in entry(ctx).summary


@pytest.mark.parametrize("analogy", ["force_current", "force_voltage"])
def test_an_undamped_resonator_gets_a_compensating_resistor(analogy):
    # r has no damper of its own; the coupling to the damped s keeps the model stable.
    w0 = 2 * math.pi * 1e3
    model = Model("undamped", (Resonator("r", 1e-3, 1e-3 * w0 * w0, 0.0), Resonator("s", 1e-3, 4e-3 * w0 * w0, 0.5)),
                  (Coupling("r", "s", "damper", 0.2),), (Input("u", (("r", 1.0),)),), (Output("c", "r"),),
                  Readout("rms", 0.0, 0.01), analogy=analogy, band=(300.0, 3000.0))
    ctx = lossy(model)
    tank = resonator_tanks(ctx.model, ctx.graph)[0]
    assert tank.damping is not None and tank.damping.value < 0
    assert abs(tank.f0_q(ctx.time_scale)[1]) > 1e9  # undamped again, up to rounding


def test_no_losses_no_change():
    ctx = lossy(load_model(TOY), inductor_q=math.inf, cap_esr_ohm=0.0)
    assert not entry(ctx).changed and not losses(ctx)


def test_runs_once():
    ctx = lossy(load_model(TOY))
    count = len(losses(ctx))
    run_flow(ctx, ["parasitics"])
    assert len(losses(ctx)) == count and [e.name for e in ctx.log].count("parasitics") == 1
