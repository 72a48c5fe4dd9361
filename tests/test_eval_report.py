"""`evaluate`, the report files and the `artjudge eval` / `datasets` / `train` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from artjudge.cli import main
from artjudge.cli.data import load_config_file
from artjudge.data import build_manifest, read_dataset
from artjudge.errors import InputError
from artjudge.eval import metrics
from artjudge.eval.report import Skipped, align_predictions, evaluate, markdown_table
from artjudge.record import Assessment, Failure, ModelInfo, ScoreDistribution


def _manifest(n: int = 60, with_votes: bool = False):
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 20, size=(n, 10)) + 1
    mean = (counts * np.arange(1, 11)).sum(1) / counts.sum(1)
    return build_manifest(
        name="toy",
        source="toy",
        image_id=[f"i{k}" for k in range(n)],
        rel_path=[f"i{k}.png" for k in range(n)],
        score_raw=mean,
        scale=(1, 10),
        split=["test"] * n,
        distribution=counts.tolist() if with_votes else None,
        levels=list(range(1, 11)) if with_votes else None,
        category=["oil" if k % 3 else "ink" for k in range(n)],
        attributes={"color": np.linspace(1, 10, n)},
        attribute_scales={"color": (1, 10)},
    )


def test_evaluate_matches_scipy_and_writes_report(tmp_path: Path) -> None:
    m = _manifest()
    target = m.frame["score"].to_numpy()
    pred = target + np.random.default_rng(0).normal(0, 8, len(target))
    r = evaluate(pred, m, "test", bootstrap=200)
    assert r.n == 60 and r.n_unscored == 0
    assert r.overall.srcc.value == pytest.approx(stats.spearmanr(pred, target).statistic)
    assert r.overall.plcc.value == pytest.approx(stats.pearsonr(pred, target).statistic)
    assert r.overall.krcc.value == pytest.approx(stats.kendalltau(pred, target).statistic)
    assert r.overall.srcc.lo < r.overall.srcc.value < r.overall.srcc.hi
    assert r.overall.acc.value == pytest.approx(metrics.acc(pred, target, scale=(1, 10)))
    assert set(r.per_category) == {"oil", "ink"}
    files = r.save(tmp_path / "rep")
    d = json.loads(files["json"].read_text())
    assert d["dataset"] == "toy" and d["overall"]["n"] == 60 and "oil" in d["per_category"]
    for key in ("scatter", "categories"):
        with Image.open(files[key]) as im:
            assert im.format == "PNG" and im.size[0] > 300
    assert len(pd.read_csv(files["predictions"])) == 60


def test_predictions_by_id_records_and_failures() -> None:
    m = _manifest(20)
    frame = m.split_frame("test")
    by_id = {f"i{k}": float(k) for k in range(0, 20, 2)}
    p = align_predictions(by_id, frame)
    assert np.isnan(p.score[1]) and p.score[4] == 4.0
    r = evaluate(by_id, m, bootstrap=0)
    assert r.n == 10 and r.n_unscored == 10
    recs = []
    for k in range(20):
        if k == 3:
            recs.append(Failure(input=f"i{k}.png", error="unreadable"))
            continue
        dist = np.zeros(101)
        dist[k * 5] = 1.0
        recs.append(
            Assessment(
                input=f"i{k}.png",
                sha256="x",
                model=ModelInfo("m", "1"),
                overall=ScoreDistribution(float(k * 5), 1.0, dist.tolist()),
                attributes={"color": ScoreDistribution(float(k), 1.0)},
            )
        )
    r2 = evaluate(recs, m, bootstrap=0)
    assert r2.n == 19 and r2.n_unscored == 1
    assert "color" in r2.per_attribute and r2.per_attribute["color"].srcc.value == pytest.approx(1.0)
    assert r2.distribution is None and any("no rating distributions" in n for n in r2.notes)
    with pytest.raises(InputError, match="none of the 1 keys match"):
        evaluate({"zzz": 1.0}, m)
    with pytest.raises(InputError, match="3 predictions for 20 rows"):
        evaluate([1.0, 2.0, 3.0], m)


def test_distribution_metrics_when_dataset_has_votes() -> None:
    m = _manifest(30, with_votes=True)
    targets = m.target_distributions()
    assert targets is not None and targets.shape == (30, 101)
    perfect = evaluate(m.frame["score"].to_numpy(), m, distributions=targets, bootstrap=0)
    assert perfect.distribution is not None
    assert perfect.distribution["kl"] == pytest.approx(0, abs=1e-9)
    assert perfect.distribution["emd"] == pytest.approx(0, abs=1e-9)
    flat = np.full((30, 101), 1 / 101)
    worse = evaluate(m.frame["score"].to_numpy(), m, distributions=flat, bootstrap=0)
    assert worse.distribution is not None
    assert worse.distribution["js"] > 0.01 and worse.distribution["emd"] > 5


def test_markdown_table_lists_results_and_skips() -> None:
    m = _manifest()
    r = evaluate(m.frame["score"].to_numpy() * 0.5 + 3, m, bootstrap=100)
    md = markdown_table([r, Skipped("baid", "images not present")], model="default")
    assert "| toy | test | 60 | 1.000" in md
    assert "- baid: images not present" in md


def test_agiqa_end_to_end_with_saved_predictions(agiqa_dir: Path, tmp_path: Path, capsys) -> None:
    m = read_dataset("agiqa-3k", agiqa_dir)
    test = m.split_frame("test")
    noisy = test["score"].to_numpy() + np.random.default_rng(0).normal(0, 10, len(test))
    pred_csv = tmp_path / "pred.csv"
    pd.DataFrame({"image_id": test["image_id"], "score": noisy}).to_csv(pred_csv, index=False)
    out = tmp_path / "report"
    rc = main(
        [
            "eval",
            "--dataset",
            "agiqa-3k",
            "--labels",
            str(agiqa_dir),
            "--predictions",
            str(pred_csv),
            "--out",
            str(out),
            "--bootstrap",
            "100",
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "srcc" in text and "anime style" in text
    rep = json.loads((out / "report.json").read_text())
    assert rep["n"] == 479
    assert rep["overall"]["srcc"]["value"] == pytest.approx(stats.spearmanr(noisy, test["score"]).statistic)
    assert (out / "scatter.png").is_file() and (out / "categories.png").is_file()


def test_cli_datasets_and_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["datasets"]) == 0
    assert "koniq-10k" in capsys.readouterr().out
    f = tmp_path / "mine.csv"
    pd.DataFrame({"image": ["a.png", "b.png"], "rating": [3, 12]}).to_csv(f, index=False)
    rc = main(
        ["datasets", "--dataset", "csv", "--labels", str(f), "--score-col", "rating", "--scale", "1,10"]
    )
    assert rc == 2
    assert "row 3 (image 'b.png'): score 12 is outside the declared range [1, 10]" in capsys.readouterr().err
    pd.DataFrame({"image": ["a.png", "b.png"], "rating": [3, 9]}).to_csv(f, index=False)
    out = tmp_path / "m.jsonl"
    assert (
        main(
            [
                "datasets",
                "--dataset",
                "csv",
                "--labels",
                str(f),
                "--score-col",
                "rating",
                "--scale",
                "1,10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.is_file() and (tmp_path / "m.jsonl.meta.json").is_file()


def test_eval_all_skips_datasets_without_images(tmp_path: Path, capsys) -> None:
    root = tmp_path / "data"
    labels = root / "labels" / "baid"
    labels.mkdir(parents=True)
    for name in ("train_set.csv", "val_set.csv", "test_set.csv"):
        (labels / name).write_text(
            "image,score\na.jpg,5\nb.jpg,6\n"
            if name != "test_set.csv"
            else "image,score\nc.jpg,5\nd.jpg,6\n",
            encoding="utf-8",
        )
    rc = main(["eval", "--all", "--data-root", str(root), "--out", str(tmp_path / "all")])
    assert rc == 1  # nothing could be evaluated
    md = (tmp_path / "all" / "summary.md").read_text()
    assert "- baid: images not present" in md and "- agiqa-3k: no labels" in md


def test_train_config_loading(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("epochs: 5\nhead:\n  dropout: 0.2\n", encoding="utf-8")
    d = load_config_file(str(cfg), ["lr=0.01", "head.hidden=64"])
    assert d == {"epochs": 5, "lr": 0.01, "head": {"dropout": 0.2, "hidden": 64}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(InputError, match="must be a mapping"):
        load_config_file(str(bad), [])
    with pytest.raises(InputError, match="is not KEY=VALUE"):
        load_config_file(None, ["epochs"])
