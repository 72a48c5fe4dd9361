"""The ``fuse``, ``plan-pairs`` and ``distill`` commands end to end on files made in the test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artjudge.cli import main
from artjudge.preference.design import PairDesigner
from artjudge.preference.simulate import Panel, simulate_judgments, simulate_ratings

ITEMS = [f"p{k:02d}" for k in range(24)]


@pytest.fixture()
def study(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    mean = pd.Series(rng.uniform(20, 90, len(ITEMS)), index=ITEMS)
    std = pd.Series(12.0, index=ITEMS)
    panel = Panel.make(5, bias_sd=6)
    plan = PairDesigner("dense", budget=200, annotators=panel.annotators).plan(ITEMS)
    files = {k: tmp_path / f"{k}.csv" for k in ("judgments", "ratings", "items")}
    simulate_judgments(plan, mean, std, panel, tie_margin=2).to_csv(files["judgments"], index=False)
    simulate_ratings(ITEMS, mean, std, panel, 3, (0, 100), step=1).to_csv(files["ratings"], index=False)
    pd.DataFrame({"item": ITEMS, "score": mean.to_numpy()}).to_csv(files["items"], index=False)
    return files


def test_fuse_writes_scores_and_report(
    study: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, rep = tmp_path / "fused.csv", tmp_path / "rep.json"
    code = main(
        [
            "fuse",
            str(study["judgments"]),
            "--ratings",
            str(study["ratings"]),
            "--method",
            "all",
            "--items",
            str(study["items"]),
            "--out",
            str(out),
            "--report",
            str(rep),
            "--top",
            "3",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "fused scores" in text and "Krippendorff" in text and "intransitive" in text
    fused = pd.read_csv(out)
    assert set(fused["method"]) == {"bt", "thurstone", "elo"} and len(fused) == 3 * len(ITEMS)
    assert fused["fused"].between(0, 100).all()
    report = json.loads(rep.read_text())
    assert "split_half_constructions" in report["dimensions"]["overall"]


def test_fuse_refuses_bad_input(
    study: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Ratings on a 1-5 scale given a 0-10 scale pass; a 0-100 rating given --scale 1 5 is refused.
    code = main(["fuse", str(study["judgments"]), "--ratings", str(study["ratings"]), "--scale", "1", "5"])
    assert code == 2 and "outside the scale [1, 5]" in capsys.readouterr().err
    islands = tmp_path / "islands.csv"
    islands.write_text("annotator,item_a,item_b,winner\nx,a,b,a\ny,b,c,a\nx,d,e,b\ny,e,f,tie\n")
    assert main(["fuse", str(islands)]) == 2
    err = capsys.readouterr().err
    assert "2 disconnected components" in err and "--components separate" in err
    assert main(["fuse", str(islands), "--components", "separate", "--no-reliability"]) == 0
    items = tmp_path / "items.csv"
    items.write_text("item\na\nb\nc\nd\ne\nf\nnever\n")
    assert main(["fuse", str(islands), "--items", str(items), "--components", "separate"]) == 2
    assert "never compared: never" in capsys.readouterr().err


def test_plan_pairs_designs(study: dict[str, Path], tmp_path: Path) -> None:
    for design in ("dense", "random", "round-robin"):
        out = tmp_path / f"plan-{design}.csv"
        assert (
            main(
                [
                    "plan-pairs",
                    str(study["items"]),
                    "--design",
                    design,
                    "--budget",
                    "60",
                    "--annotators",
                    "3",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        plan = pd.read_csv(out)
        assert len(plan) == 60 and plan["annotator"].nunique() == 3
    out = tmp_path / "plan-active.csv"
    assert (
        main(
            [
                "plan-pairs",
                str(study["items"]),
                "--design",
                "active",
                "--judgments",
                str(study["judgments"]),
                "--budget",
                "20",
                "--annotators",
                "amy,bo",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert set(pd.read_csv(out)["annotator"]) == {"amy", "bo"}
    assert (
        main(["plan-pairs", str(study["items"]), "--design", "active", "--budget", "5", "--out", str(out)])
        == 2
    )


def test_distill_from_a_table_of_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 6))
    y = 50 + 10 * (X @ rng.normal(size=6))
    ids = [f"z{k:02d}" for k in range(90)]
    pool_idx, new_idx = np.arange(30), np.arange(30, 90)
    pd.DataFrame(
        {"item": [ids[i] for i in pool_idx], "elo": 1500 + 5 * (y[pool_idx] - 50), "score": y[pool_idx]}
    ).to_csv(tmp_path / "pool.csv", index=False)
    pd.DataFrame({"item": [ids[i] for i in new_idx]}).to_csv(tmp_path / "items.csv", index=False)
    feats = pd.DataFrame(X, columns=[f"f{k}" for k in range(6)])
    feats.insert(0, "item", ids)
    feats.to_csv(tmp_path / "features.csv", index=False)
    rows = []
    for i in new_idx:
        for j in rng.choice(pool_idx, 6, replace=False):
            rows.append((ids[i], ids[j], "a" if y[i] + rng.normal(0, 3) > y[j] else "b", 0.9))
    pd.DataFrame(rows, columns=["item_a", "item_b", "winner", "confidence"]).to_csv(
        tmp_path / "calls.csv", index=False
    )
    out = tmp_path / "student.pt"
    code = main(
        [
            "distill",
            "--judge",
            f"table:{tmp_path / 'calls.csv'}",
            "--pool",
            str(tmp_path / "pool.csv"),
            "--items",
            str(tmp_path / "items.csv"),
            "--features",
            str(tmp_path / "features.csv"),
            "--epochs",
            "30",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and out.is_file() and out.with_suffix(".pseudo.csv").is_file()
    assert "distilled 360 judge calls" in capsys.readouterr().out
    assert (
        main(
            [
                "distill",
                "--judge",
                "oracle:x",
                "--pool",
                str(tmp_path / "pool.csv"),
                "--items",
                str(tmp_path / "items.csv"),
                "--features",
                str(tmp_path / "features.csv"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
