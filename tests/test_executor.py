"""One executor for fan-out work: local processes by default, a Dask cluster with --scheduler."""

import operator
import os

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model, tolerance
from r2nn_compiler.executor import DaskExecutor, ExecutorError, LocalExecutor, make_executor
from r2nn_compiler.verify import read_compiled, verify_deck

from .conftest import ROOT, TOY
from .strategies import random_stable_model
from .test_verify import noise_signals

SIGNALS = ROOT / "examples" / "toy" / "signals"


@pytest.fixture(scope="module")
def cluster():
    """A small Dask cluster in this process (threads), as ``dask scheduler`` + workers would be."""
    import distributed  # a dependency (setup.cfg): a missing one must fail, not skip
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c:
        yield c


def test_local_processes_return_results_in_order():
    items = list(range(-7, 7))
    assert list(LocalExecutor(2).map(operator.neg, items)) == [-i for i in items]
    assert list(LocalExecutor(1).map(operator.neg, items)) == [-i for i in items]  # in this process


def _die(_):
    os._exit(3)


def test_a_dead_local_worker_is_one_clear_error():
    with pytest.raises(ExecutorError, match="worker process died"):
        list(LocalExecutor(2).map(_die, [1, 2]))


def test_dask_cluster_returns_results_in_order(cluster):
    with make_executor(scheduler=cluster.scheduler_address) as executor:
        assert isinstance(executor, DaskExecutor) and executor.workers == 2
        assert list(executor.map(operator.neg, range(9))) == [-i for i in range(9)]


@pytest.mark.parametrize("address, reason", [("tcp://127.0.0.1:1", "cannot reach"), ("no-port", "cannot reach"),
                                             ("http://127.0.0.1:8786", "cannot reach")])
def test_unreachable_scheduler_is_one_clear_error(address, reason):
    with pytest.raises(ExecutorError, match=reason):
        make_executor(scheduler=address)


def test_verification_on_dask_matches_local_processes(cluster, tmp_path):
    model = random_stable_model(2)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    signals = noise_signals(3, seed=2)
    local = verify_deck(model, compiled, signals, run_ac=False, executor=LocalExecutor(2))
    with make_executor(scheduler=cluster.scheduler_address) as executor:
        remote = verify_deck(model, compiled, signals, run_ac=False, executor=executor)
    assert remote.passed, remote.failures()
    for a, b in zip(local.signals, remote.signals, strict=True):
        np.testing.assert_array_equal(a.circuit_outputs, b.circuit_outputs)


def test_a_run_carries_its_library_so_workers_need_no_file_of_the_client(cluster, tmp_path):
    from r2nn_compiler.verify.transient_run import TransientRun, model_in_circuit_units, simulate_run

    model = load_model(TOY)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    m = compiled.manifest
    u = noise_signals(1)[0].data[None]

    def run(library_path: str) -> TransientRun:
        return TransientRun(library_name=m["library"], library_path=library_path,
                            library_text=compiled.library_path.read_text(), subckt=m["subckt"], n_outputs=3,
                            supplies=[], inputs=u, sample_period_s=1 / 16_000,
                            system=model_in_circuit_units(model, compiled), accuracy=1e-3, f_max_hz=0.0)

    with make_executor(scheduler=cluster.scheduler_address) as executor:
        here, elsewhere = executor.map(simulate_run, [run(str(compiled.library_path.resolve())),
                                                      run(str(tmp_path / "not-on-this-worker" / "toy.lib"))])
    assert here.outputs.shape == (1, 3, u.shape[-1])
    np.testing.assert_array_equal(here.outputs, elsewhere.outputs)


def test_monte_carlo_on_dask_matches_local_processes(cluster, tmp_path):
    golden = ROOT / "netlists" / "toy"
    model = load_model(TOY)
    tols = {"R": 0.01, "C": 0.05, "L": 0.1}
    local = tolerance(model, golden, [SIGNALS], tols, runs=6, spot_checks=1, workers=2)
    remote = tolerance(model, golden, [SIGNALS], tols, runs=6, spot_checks=1, scheduler=cluster.scheduler_address)
    np.testing.assert_array_equal(local.agreement, remote.agreement)
    assert remote.spot_checks[0]["decisions_agree"] == remote.spot_checks[0]["signals"]


def test_cli_runs_verify_and_tolerance_on_a_scheduler(cluster, tmp_path):
    out = tmp_path / "o"
    compile_model(load_model(TOY), out, exact=True)
    address = cluster.scheduler_address
    result = CliRunner().invoke(main, ["verify", str(TOY), str(out), str(SIGNALS / "chirp.wav"), "--no-ac",
                                       "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert "PASS: 1 signals" in result.output
    result = CliRunner().invoke(main, ["tolerance", str(TOY), str(out), str(SIGNALS), "--runs", "4",
                                       "--spot-checks", "0", "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert "class agreement with the reference: mean" in result.output


@pytest.mark.parametrize("command", ["verify", "tolerance"])
def test_cli_bad_scheduler_is_one_line_and_exit_1(tmp_path, command):
    out = tmp_path / "o"
    compile_model(load_model(TOY), out, exact=True)
    result = CliRunner().invoke(main, [command, str(TOY), str(out), str(SIGNALS / "chirp.wav"),
                                       "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Dask scheduler at 'tcp://127.0.0.1:1'" in lines[0], result.output
    assert "Traceback" not in result.output
