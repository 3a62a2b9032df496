"""The raw-file reader, on files written by ngspice itself and on hand-made edge cases."""

import os
import shutil
import subprocess

import numpy as np
import pytest

from r2nn_compiler.errors import SimulationError
from r2nn_compiler.sim import read_raw

DECK = """rc step and ac
V1 in 0 PULSE(0 1 0 1e-9 1e-9 1 2) AC 1
R1 in out 1e3
C1 out 0 1e-6
.tran 1e-5 5e-3
.ac dec 10 10 1e5
.end
"""


def _ngspice_raw(folder, ascii_format: bool):
    """Run ngspice directly (not through the runner) and return the raw file it wrote."""
    folder.mkdir()
    (folder / "rc.cir").write_text(DECK)
    env = dict(os.environ, HOME=str(folder))
    env.pop("SPICE_ASCIIRAWFILE", None)
    if ascii_format:
        env["SPICE_ASCIIRAWFILE"] = "1"
    subprocess.run(
        [shutil.which("ngspice"), "-b", "-r", "rc.raw", "-o", "rc.log", "rc.cir"],
        cwd=folder, env=env, check=True, capture_output=True, timeout=60,
    )
    return folder / "rc.raw"


@pytest.fixture(scope="module")
def raw_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("raw")
    return _ngspice_raw(base / "binary", False), _ngspice_raw(base / "ascii", True)


def test_files_really_differ_in_format(raw_files):
    binary, ascii_ = raw_files
    assert b"\nBinary:\n" in binary.read_bytes()
    assert b"\nValues:\n" in ascii_.read_bytes()


def test_both_plots_in_run_order_with_types(raw_files):
    plots = read_raw(raw_files[0])
    # ngspice runs .ac before .tran whatever the deck order.
    assert [p.plotname for p in plots] == ["AC Analysis", "Transient Analysis"]
    ac, tran = plots
    assert ac.flags == {"complex"} and tran.flags == {"real"}
    assert ac.title == tran.title == "rc step and ac"
    assert tran.variables == [
        ("time", "time"), ("v(in)", "voltage"), ("v(out)", "voltage"), ("i(v1)", "current"),
    ]
    assert ac.variables[0] == ("frequency", "frequency")
    assert all(v.dtype == np.complex128 and v.shape == (41,) for v in ac.data.values())
    assert all(v.dtype == np.float64 for v in tran.data.values())
    assert tran.get("time")[0] == 0.0 and tran.get("time")[-1] == pytest.approx(5e-3)


def test_binary_and_ascii_read_identically(raw_files):
    binary, ascii_ = (read_raw(path) for path in raw_files)
    assert len(binary) == len(ascii_) == 2
    for b, a in zip(binary, ascii_):
        assert (b.plotname, b.flags, b.variables, b.title) == (a.plotname, a.flags, a.variables,
                                                               a.title)
        scale = b.variables[0][0]
        for name, values in b.data.items():
            other = a.data[name]
            if name == scale and b.is_complex:
                # ngspice writes uninitialised memory as the imaginary part of the (real)
                # frequency scale, differently in each format; only the real part is data.
                values, other = values.real, other.real
            # ascii keeps 16 significant digits, binary all 17.
            np.testing.assert_allclose(other, values, rtol=1e-14, atol=1e-300)


def test_get_is_case_insensitive_and_names_what_exists(raw_files):
    tran = read_raw(raw_files[0])[1]
    assert tran.get("V(OUT)") is tran.data["v(out)"]
    with pytest.raises(SimulationError, match=r"no vector 'v\(nope\)'.*available: time, v\(in\)"):
        tran.get("v(nope)")


@pytest.mark.parametrize("which", [0, 1], ids=["binary", "ascii"])
def test_truncated_file_says_how_many_points(raw_files, tmp_path, which):
    cut = tmp_path / "cut.raw"
    cut.write_bytes(raw_files[which].read_bytes()[:-100])
    expected = len(read_raw(raw_files[which])[1].get("time"))
    with pytest.raises(SimulationError, match=rf"truncated: plot 'Transient Analysis' expected "
                                              rf"{expected} points, found \d+"):
        read_raw(cut)


def test_interrupted_run_is_reported(raw_files, tmp_path):
    # A killed ngspice leaves "No. Points: 0" (rewritten only at the end) and data behind.
    blob = raw_files[0].read_bytes()
    title = blob.index(b"Title:", 10)  # the second plot
    start = blob.index(b"No. Points:", title)
    end = blob.index(b"\n", start)
    patched = b"No. Points: 0".ljust(end - start)
    broken = tmp_path / "killed.raw"
    broken.write_bytes(blob[:start] + patched + blob[end:])
    with pytest.raises(SimulationError, match="unexpected bytes after plot 'Transient Analysis'.*"
                                              "interrupted"):
        read_raw(broken)


HEADER = """Title: hand made
Date: today
Plotname: Transient Analysis
Flags: real{flags}
No. Variables: 3
No. Points: 3
Variables:
\t0\ttime\ttime
\t1\tv(a)\tvoltage
\t2\tv(b)\tvoltage dims=2
"""


def _binary(flags, values):
    return HEADER.format(flags=flags).encode() + b"Binary:\n" + np.asarray(
        values, dtype="<f8").tobytes()


def test_unpadded_binary_vector_stops_early(tmp_path):
    path = tmp_path / "unpadded.raw"
    # point 0: t a b, point 1: t a b, point 2: t a (b has only 2 points)
    path.write_bytes(_binary(" unpadded", [0, 1, 10, 1, 2, 20, 2, 3]))
    (plot,) = read_raw(path)
    np.testing.assert_array_equal(plot.get("time"), [0, 1, 2])
    np.testing.assert_array_equal(plot.get("v(a)"), [1, 2, 3])
    np.testing.assert_array_equal(plot.get("v(b)"), [10, 20])


def test_padded_binary_drops_the_padding(tmp_path):
    path = tmp_path / "padded.raw"
    path.write_bytes(_binary(" Padded", [0, 1, 10, 1, 2, 20, 2, 3, 0]))
    (plot,) = read_raw(path)
    np.testing.assert_array_equal(plot.get("v(b)"), [10, 20])


def test_unpadded_ascii_and_a_second_plot(tmp_path):
    first = HEADER.format(flags=" unpadded") + (
        "Values:\n 0\t0\n\t1\n\t10\n 1\t1\n\t2\n\t20\n 2\t2\n\t3\n\n"
    )
    second = (
        "Title: hand made\nDate: today\nPlotname: AC Analysis\nFlags: complex\n"
        "No. Variables: 2\nNo. Points: 2\nVariables:\n\t0\tfrequency\tfrequency\n"
        "\t1\tv(a)\tvoltage\nValues:\n0\t1.0,0.0\n\t0.5,-0.5\n1\t10.0,0.0\n\t0.1,-0.3\n"
    )
    path = tmp_path / "two.raw"
    path.write_text(first + second)
    tran, ac = read_raw(path)
    np.testing.assert_array_equal(tran.get("v(b)"), [10, 20])
    np.testing.assert_array_equal(ac.get("v(a)"), [0.5 - 0.5j, 0.1 - 0.3j])


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"Title: x\nPlotname: p\nFlags: real\nNo. Variables: 1\nNo. Points: 1\n",
         "ends before its 'Binary:'"),
        (b"Title: x\nthis is not a header\n", "not 'Key: value'"),
        (b"Title: x\nPlotname: p\nNo. Points: 1\nBinary:\n", "lacks 'No. Points:'"),
        (b"garbage", "not a raw file"),
    ],
)
def test_malformed_files(tmp_path, content, message):
    path = tmp_path / "bad.raw"
    path.write_bytes(content)
    with pytest.raises(SimulationError, match=message):
        read_raw(path)


def test_missing_file(tmp_path):
    with pytest.raises(SimulationError, match="cannot read raw file"):
        read_raw(tmp_path / "absent.raw")
