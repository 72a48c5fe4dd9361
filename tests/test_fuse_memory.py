"""``fuse`` on a compact table (issue 18): the same numbers as before, in a fraction of the memory.

The judgments are read as categoricals (codes, not a string per cell) and encoded from the
codes; the Davidson terms fill buffers in place. None of it may move a fused number: the
pins below were written by the code before the change (commit 268610f) on the CSV that
``_small_judgments_csv`` writes. The memory check runs ``fuse`` in a child process and
reads its peak RSS from the kernel (``os.wait4``); it is a bound on bytes, not on time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artjudge.cli import main
from artjudge.errors import InputError
from artjudge.preference.formats import read_judgments, validate_judgments
from artjudge.preference.graph import encode

# (method, dimension, item): (fused, fused_se, lower, upper, n_comparisons), from 268610f.
PINNED: dict[tuple[str, str, str], tuple[float, float, float, float, int]] = {
    ("bt", "colour", "work_11"): (
        3.943202620665779,
        0.91023054613959,
        2.159183532603959,
        5.727221708727599,
        23,
    ),
    ("bt", "colour", "work_05"): (
        0.4179844698025524,
        0.6025329434164881,
        -0.7629583987926747,
        1.5989273383977793,
        22,
    ),
    ("bt", "colour", "work_00"): (
        -3.0235244326605404,
        0.6560788332097498,
        -4.309415316770711,
        -1.7376335485503696,
        27,
    ),
    ("bt", "overall", "work_11"): (
        2.7634697854864845,
        0.5669583261029196,
        1.6522518855896469,
        3.8746876853833223,
        32,
    ),
    ("bt", "overall", "work_05"): (
        -0.19418204427474003,
        0.4731985548927065,
        -1.1216341694008445,
        0.7332700808513645,
        30,
    ),
    ("bt", "overall", "work_00"): (
        -3.3267549382606836,
        0.5696236873567307,
        -4.4431968502207795,
        -2.2103130263005877,
        44,
    ),
    ("elo", "colour", "work_11"): (
        1654.9655816851796,
        22.70994403598001,
        1615.7442640933273,
        1693.380629776837,
        23,
    ),
    ("elo", "colour", "work_05"): (
        1518.5707348673902,
        34.585166354166674,
        1458.334426095808,
        1581.2048546045912,
        22,
    ),
    ("elo", "colour", "work_00"): (
        1362.4027184179936,
        29.631590138558913,
        1322.7850472896541,
        1429.3574154124274,
        27,
    ),
    ("elo", "overall", "work_11"): (
        1648.5691044065468,
        26.29081892573109,
        1594.9974434758433,
        1687.0488451539845,
        32,
    ),
    ("elo", "overall", "work_05"): (
        1502.154394375391,
        25.526452443689433,
        1454.5091753050037,
        1543.4068754568943,
        30,
    ),
    ("elo", "overall", "work_00"): (
        1301.392412162609,
        19.933404901616306,
        1267.9566286911001,
        1340.9266152083721,
        44,
    ),
    ("thurstone", "colour", "work_11"): (
        1.8499449413276996,
        0.38829303783316027,
        1.0889045717270567,
        2.6109853109283425,
        23,
    ),
    ("thurstone", "colour", "work_05"): (
        0.19656867680736415,
        0.27545371590733253,
        -0.34331068577873547,
        0.7364480393934637,
        22,
    ),
    ("thurstone", "colour", "work_00"): (
        -1.4333393681669704,
        0.29168272605868184,
        -2.0050270061544495,
        -0.8616517301794913,
        27,
    ),
    ("thurstone", "overall", "work_11"): (
        1.37289662727322,
        0.2614604645750204,
        0.8604435333250693,
        1.8853497212213706,
        32,
    ),
    ("thurstone", "overall", "work_05"): (
        -0.0596884767109234,
        0.21707496499086384,
        -0.48514759003830965,
        0.3657706366164628,
        30,
    ),
    ("thurstone", "overall", "work_00"): (
        -1.584309074547901,
        0.24144821101903483,
        -2.057538872276836,
        -1.1110792768189657,
        44,
    ),
}


def _small_judgments_csv(path: Path) -> Path:
    """400 judgments of 12 works in two dimensions, with stray spaces, capitals and blank dimensions."""
    rng = np.random.default_rng(18)
    items = [f"work_{k:02d}" for k in range(12)]
    true = np.linspace(-1.5, 1.5, len(items))
    lines = ["annotator,item_a,item_b,winner,dimension"]
    for k in range(400):
        i, j = rng.choice(len(items), 2, replace=False)
        d = true[i] - true[j] + rng.normal(0, 1)
        winner = "tie" if abs(d) < 0.3 else ("a" if d > 0 else "b")
        winner = winner.upper() if k % 9 == 0 else winner
        a = f" {items[i]}" if k % 7 == 0 else items[i]
        dim = "" if k % 5 == 0 else ("colour" if k % 2 else "overall")
        lines.append(f"rater{k % 6},{a},{items[j]},{winner},{dim}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fused_numbers_equal_the_ones_before_the_compact_table(tmp_path: Path) -> None:
    csv = _small_judgments_csv(tmp_path / "judgments.csv")
    out = tmp_path / "fused.csv"
    assert main(["fuse", str(csv), "--method", "all", "--no-reliability", "--out", str(out)]) == 0
    fused = pd.read_csv(out).set_index(["method", "dimension", "item"])
    assert len(fused) == 72
    for key, (value, se, lower, upper, n_cmp) in PINNED.items():
        row = fused.loc[key]
        got = [row["fused"], row["fused_se"], row["lower"], row["upper"]]
        np.testing.assert_allclose(got, [value, se, lower, upper], rtol=0, atol=1e-9, err_msg=str(key))
        assert int(row["n_comparisons"]) == n_cmp


def test_the_compact_table_encodes_to_the_same_arrays_as_plain_text(tmp_path: Path) -> None:
    compact = read_judgments(_small_judgments_csv(tmp_path / "judgments.csv"))
    for col in ("annotator", "item_a", "item_b", "winner", "dimension"):
        assert isinstance(compact[col].dtype, pd.CategoricalDtype), col
    # " work_03" and "work_03" are one item, "A" is "a", a blank dimension is "overall"
    assert list(compact["item_a"].cat.categories) == [f"work_{k:02d}" for k in range(12)]
    assert set(compact["winner"]) == {"a", "b", "tie"}
    assert set(compact["dimension"]) == {"overall", "colour"}
    plain = compact.astype({c: str for c in ("annotator", "item_a", "item_b", "winner", "dimension")})
    assert not isinstance(plain["item_a"].dtype, pd.CategoricalDtype)
    for dim in ("overall", "colour"):
        c_sub, p_sub = compact[compact["dimension"] == dim], plain[plain["dimension"] == dim]
        for items in (None, [f"work_{k:02d}" for k in range(11, -1, -1)]):
            fast, slow = encode(c_sub, items), encode(p_sub, items)
            assert fast.items == slow.items
            for name in ("a", "b", "outcome", "weight"):
                got, want = getattr(fast, name), getattr(slow, name)
                assert got.dtype == want.dtype and np.array_equal(got, want), (dim, name)
    short = [f"work_{k:02d}" for k in range(11)]  # work_11 missing: both paths name the same first row
    with pytest.raises(InputError) as fast_err:
        encode(compact, short)
    with pytest.raises(InputError) as slow_err:
        encode(plain, short)
    assert str(fast_err.value) == str(slow_err.value)


def test_compact_validation_reports_the_same_lines(tmp_path: Path) -> None:
    head = "annotator,item_a,item_b,winner\n"
    bad_winner = tmp_path / "w.csv"
    bad_winner.write_text(head + "x,a,b,a\nx,b,c,left\ny,a,c,b\n")
    with pytest.raises(InputError, match=r"got 'left' at line 3"):
        read_judgments(bad_winner)
    self_cmp = tmp_path / "s.csv"
    self_cmp.write_text(head + "x,a,b,a\nx, b,b ,a\ny,a,c,b\n")  # equal once stripped
    with pytest.raises(InputError, match=r"self-comparison \(item 'b' against itself\) at line 3"):
        read_judgments(self_cmp)
    header_only = tmp_path / "h.csv"
    header_only.write_text(head)
    with pytest.raises(InputError, match="no judgments"):
        read_judgments(header_only)
    # ids that look like numbers stay text: "007" is not 7
    ids = tmp_path / "ids.csv"
    ids.write_text(head + "x,007,7,a\ny,7,08,b\n")
    table = read_judgments(ids)
    assert list(table["item_a"]) == ["007", "7"] and list(table["item_b"]) == ["7", "08"]
    # a DataFrame built in code (not read from a file) is compacted the same way
    frame = validate_judgments(
        pd.DataFrame({"annotator": ["x"], "item_a": [1], "item_b": [2], "winner": ["A"]})
    )
    assert list(frame["item_a"]) == ["1"] and list(frame["winner"]) == ["a"]


# The count of a child's peak RSS survives exec and starts from the process that forked it:
# pytest's own hundreds of MiB would hide the child's. A small launcher forks it instead.
PROBE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def _peak_rss(argv: list[str]) -> int:
    """Peak RSS (bytes) of one command, as the kernel counted it."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, check=True
    )
    code, maxrss = done.stdout.split()
    assert code == "0", argv
    return int(maxrss) * 1024


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4 (POSIX) to read a child's peak RSS")
def test_fuse_peak_memory_stays_a_small_multiple_of_the_csv(tmp_path: Path) -> None:
    """~5 MB of judgments: the fit must cost a small multiple of the file, not ~20x as before."""
    rng = np.random.default_rng(5)
    n, n_items = 110_000, 150
    a = rng.integers(0, n_items, n)
    b = (a + rng.integers(1, n_items, n)) % n_items
    frame = pd.DataFrame(
        {
            "annotator": np.char.add("ann", (np.arange(n) % 30).astype(str)),
            "item_a": np.char.add("painting_", np.char.zfill(a.astype(str), 3)),
            "item_b": np.char.add("painting_", np.char.zfill(b.astype(str), 3)),
            "winner": rng.choice(["a", "b", "tie"], n, p=[0.45, 0.45, 0.1]),
            "dimension": "overall",
            "confidence": "1.0",
        }
    )
    csv = tmp_path / "judgments.csv"
    frame.to_csv(csv, index=False)
    size = csv.stat().st_size
    assert 4.5e6 < size < 6e6
    imports = "import artjudge.cli, artjudge.cli.preference, artjudge.preference.fusion, artjudge.preference.reliability"
    baseline = _peak_rss([sys.executable, "-c", imports])
    peak = _peak_rss(
        [
            sys.executable,
            "-m",
            "artjudge",
            "fuse",
            str(csv),
            "--no-reliability",
            "--out",
            str(tmp_path / "f.csv"),
        ]
    )
    # measured: 20.5x the CSV above the baseline before issue 18's fix, 7.3x after
    assert peak - baseline < 12 * size, (
        f"fuse used {(peak - baseline) / 2**20:.1f} MiB above the baseline for {size / 2**20:.1f} MiB of CSV"
    )


def test_non_ascii_ids_sort_the_same_on_both_paths(tmp_path: Path) -> None:
    """Categories sort by code point, as numpy sorts the strings: the same item order either way."""
    names = ["Zebra", "apple", "äpfel", "Éclair", "eclair", "日本", "🎨 art", "a b"]
    rows = [
        f"r{k % 3},{names[k % len(names)]},{names[(k * 3 + 1) % len(names)]},{'ab'[k % 2]}" for k in range(40)
    ]
    rows = [r for r in rows if r.split(",")[1] != r.split(",")[2]]
    csv = tmp_path / "u.csv"
    csv.write_text("annotator,item_a,item_b,winner\n" + "\n".join(rows) + "\n", encoding="utf-8")
    compact = read_judgments(csv)
    plain = compact.astype({c: str for c in ("annotator", "item_a", "item_b", "winner", "dimension")})
    fast, slow = encode(compact), encode(plain)
    assert fast.items == slow.items == sorted(set(names))
    assert np.array_equal(fast.a, slow.a) and np.array_equal(fast.b, slow.b)
