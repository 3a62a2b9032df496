"""quantise on a loss-compensated graph (``--parasitics``): the tanks are recognised with their
loss resistors, the winding resistance moves with the inductor bought, and each resonator's f0
and Q are restored with the losses of the parts bought, so the H(jω) error stays where the
compensation left it (before this, every part was rounded alone: 59 % on the toy)."""

import dataclasses
import math

import pytest

from r2nn_compiler import eseries
from r2nn_compiler.compiler import load_model
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.tanks import IN_SERIES_WITH, resonator_tanks
from r2nn_compiler.passes.parasitics import band_centre_rad_s

from .conftest import ROOT, TOY
from .strategies import random_stable_model

FLOW = ["map_force_current", "map_force_voltage", "scale", "realise_negative", "parasitics", "realise_negative",
        "quantise"]
TACTILE = ROOT / "examples" / "tactile" / "model.r2nn"


def compiled(model, **options) -> CompileContext:
    options.setdefault("parasitics", True)
    return run_flow(CompileContext(model, CompileOptions(**options)), FLOW)


def entry(ctx: CompileContext, name: str):
    return next(e for e in ctx.log if e.name == name)


@pytest.mark.parametrize("path", [TOY, TACTILE], ids=["toy", "tactile"])
def test_quantising_keeps_the_compensated_response(path):
    ctx = compiled(load_model(path))
    q = entry(ctx, "quantise").details
    before, after = q["h_relative_error_before"], q["h_relative_error_after"]
    assert before < 0.1  # what the compensation leaves: losses in couplings, R_s's spread across the band
    assert after < before + 0.01, (before, after)
    assert not q["resonators_not_analysed"]
    assert abs(q["worst_f0_shift"]["relative"]) < 2e-3 and abs(q["worst_q_shift"]["relative"]) < 2e-3


@pytest.mark.parametrize("analogy, seed, n", [("force_current", 0, 4), ("force_current", 7, 4),
                                             ("force_voltage", 9, 3), ("force_voltage", 5, 4)])
def test_every_tank_is_found_and_restored_with_its_losses(analogy, seed, n):
    model = dataclasses.replace(random_stable_model(seed, n=n), analogy=analogy)
    ideal = {t.name: t.f0_q(1.0) for t in resonator_tanks(model, run_flow(
        CompileContext(model, CompileOptions()), ["map_force_current", "map_force_voltage"]).graph)}
    ctx = compiled(model, band_hz=(1e3, 40e3))
    q = entry(ctx, "quantise").details
    assert not q["resonators_not_analysed"]
    for tank in resonator_tanks(model, ctx.graph):
        if tank.damping is None or tank.damping.part is None:
            continue  # a damping realised actively: Q is not the quantiser's to restore
        f0, qf = dataclasses.replace(tank, inductor=whole(ctx, tank.inductor), capacitor=whole(ctx, tank.capacitor),
                                     damping=whole(ctx, tank.damping), inductor_loss_ohm=loss(ctx, tank.inductor),
                                     capacitor_loss_ohm=loss(ctx, tank.capacitor)).f0_q(ctx.time_scale)
        assert f0 == pytest.approx(ideal[tank.name][0], rel=2e-3)
        assert qf == pytest.approx(ideal[tank.name][1], rel=5e-3)
    # Quantisation adds no more to the H(jω) error than it adds to the lossless graph's.
    lossless = entry(compiled(model, band_hz=(1e3, 40e3), parasitics=False), "quantise").details
    assert q["h_relative_error_after"] < q["h_relative_error_before"] + lossless["h_relative_error_after"] + 0.01


def whole(ctx: CompileContext, comp):
    """``comp`` with the value of the pair it is one of (as bought), or its own."""
    part = comp.part
    if part is None or not part.pair_parts:
        return comp
    values = [ctx.graph.component(name).value for name in part.pair_parts]
    adds = (part.pair == "series") != (comp.kind == "C")  # R and L add in series, C in parallel
    return dataclasses.replace(comp, value=sum(values) if adds else 1.0 / sum(1.0 / v for v in values))


def loss(ctx: CompileContext, comp) -> float:
    """The loss resistance in series with ``comp`` or the pair it is one of."""
    names = set(comp.part.pair_parts) | {comp.name}
    return sum(c.value for c in ctx.graph.components if c.attrs.get(IN_SERIES_WITH) in names)


def test_every_part_is_bought_and_the_winding_resistance_moves_with_its_inductor():
    ctx = compiled(load_model(TOY), band_hz=(1e3, 40e3), inductor_q=40.0)
    w_c = band_centre_rad_s(ctx)
    total: dict[str, float] = {}
    for comp in ctx.graph.components:
        if comp.kind in "RLC" and comp.value > 0 and comp.attrs.get("role") not in ("parasitic", "wiring"):
            assert comp.part is not None and eseries.is_in_series(comp.value, comp.part.series), comp
        if comp.kind == "L" and comp.part is not None:
            first = comp.part.pair_parts[0] if comp.part.pair_parts else comp.name
            total[first] = total.get(first, 0.0) + comp.value
    losses = {c.attrs[IN_SERIES_WITH]: c for c in ctx.graph.components if c.attrs.get("role") == "parasitic"}
    assert total and set(total) <= set(losses)
    moved = 0
    for name, henry in total.items():
        assert losses[name].value == pytest.approx(w_c * henry / 40.0, rel=1e-12)
        moved += not math.isclose(henry, ctx.graph.component(name).part.ideal_value, rel_tol=1e-9)
    assert moved  # some inductor was bought off its ideal value, and its loss followed
