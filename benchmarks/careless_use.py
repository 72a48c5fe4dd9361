"""The hostile-use suite: what a careless or hostile user did to artjudge, and whether it held.

    nice -n 5 python benchmarks/careless_use.py              # every case (about 3-6 minutes)
    nice -n 5 python benchmarks/careless_use.py --skip-service --only merge,sidecar

Each case repeats, in a fresh temporary folder, something that once deleted, read or lost a
user's data or answered with a traceback (issue 26: second round; issue 18: the first
round's cases), and reports "held" or "FAILED" with what it saw. Nothing outside the temp
folder is written, except the results file. The service cases (forged X-Forwarded-For,
slow headers, SIGKILLs while judgments stream in) start `artjudge serve` in a child process
through benchmarks/service_load.py's helpers; ``--skip-service`` leaves them out.

Prints a table and writes benchmarks/results/careless_use.json (a run with ``--only`` or
``--skip-service`` writes to the temp folder instead, leaving the recorded figures alone).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, print_table, save_results, save_trial_results  # noqa: E402

Outcome = tuple[bool, str]
CASES: list[tuple[str, str, Callable[[Path], Outcome]]] = []


def case(key: str, title: str) -> Callable[[Callable[[Path], Outcome]], Callable[[Path], Outcome]]:
    def add(fn: Callable[[Path], Outcome]) -> Callable[[Path], Outcome]:
        CASES.append((key, title, fn))
        return fn

    return add


# ------------------------------------------------------------------------------ helpers


def png(path: Path, seed: int = 0, size: int = 64) -> Path:
    arr = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def cli(*argv: str) -> tuple[int | str, str, str]:
    """Run ``artjudge ARGV`` in this process: (exit code, or "traceback: ..."; stdout; stderr)."""
    from artjudge.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc: int | str = main(list(argv))
    except SystemExit as e:
        rc = int(e.code or 0) if not isinstance(e.code, str) else 2
    except BaseException as e:  # a traceback is exactly what a case must not produce
        rc = f"traceback: {type(e).__name__}: {str(e)[:120]}"
    return rc, out.getvalue(), err.getvalue()


def one_line(rc: int | str, err: str) -> bool:
    """A refusal as users should see it: exit 2, one ``artjudge: error:`` line, no traceback."""
    lines = [x for x in err.splitlines() if x.strip()]
    return rc == 2 and len(lines) == 1 and lines[0].startswith("artjudge: error: ") and "Traceback" not in err


def artjudge_proc(*argv: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "artjudge", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def has(*modules: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in modules)


def judgments(path: Path, names: list[str] | None = None) -> Path:
    names = names or [f"p{k}" for k in range(6)]
    rows = ["annotator,item_a,item_b,winner"]
    for k in range(60):
        a, b = names[k % len(names)], names[(k + 1 + k // len(names)) % len(names)]
        if a != b:
            rows.append(f"r{k % 3},{a},{b},{'a' if k % 3 else 'b'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


class NotRun(Exception):
    """A case that cannot run here (a missing extra): reported as skipped, with the install line."""


# ------------------------------------------------------------------- second round (issue 26)


@case("merge", "merge-vlm --out EXISTING never deletes; --force never replaces its input")
def merge_vlm(tmp: Path) -> Outcome:
    if not has("transformers", "peft", "torch"):
        raise NotRun("needs the [vlm] extra: pip install 'artjudge[vlm]'")
    from artjudge.models.vlm.tiny import build_tiny_vlm

    tiny = build_tiny_vlm("qwen2_5_vl", tmp / "tiny" / "model", image_size=56)
    out = tmp / "phd"
    out.mkdir()
    (out / "thesis.tex").write_text("two years")
    (out / "data").mkdir()
    (out / "data" / "survey.csv").write_text("a,b\n")
    rc1, _, e1 = cli("merge-vlm", str(tiny), "--out", str(out), "--device", "cpu")
    kept = (out / "thesis.tex").is_file() and (out / "data" / "survey.csv").is_file()
    before = sorted(p.name for p in tiny.iterdir())
    rc2, _, _ = cli("merge-vlm", str(tiny), "--out", str(tiny), "--force", "--device", "cpu")
    rc3, _, _ = cli("merge-vlm", str(tiny), "--out", str(tiny.parent), "--force", "--device", "cpu")
    intact = sorted(p.name for p in tiny.iterdir()) == before
    rc4, _, _ = cli("merge-vlm", str(tiny), "--out", str(out), "--force", "--device", "cpu")
    swapped = (out / "config.json").is_file() and not (out / "thesis.tex").exists()
    ok = one_line(rc1, e1) and kept and rc2 == rc3 == 2 and intact and rc4 == 0 and swapped
    return (
        ok,
        f"existing folder kept: {kept}; input refused with --force: {rc2 == rc3 == 2}; --force swaps: {swapped}",
    )


@case("plan-out", "plan-labels --out refuses to overwrite, and never its own pool")
def plan_out(tmp: Path) -> Outcome:
    png(tmp / "pool" / "a.png")
    pool = tmp / "pool.csv"
    pool.write_text("path\npool/a.png\n")
    out = tmp / "plan.csv"
    out.write_text("my plan\n")
    rc1, _, e1 = cli("plan-labels", str(pool), "--budget", "1", "--out", str(out))
    rc2, _, e2 = cli("plan-labels", str(pool), "--budget", "1", "--out", str(pool), "--force")
    ok = one_line(rc1, e1) and one_line(rc2, e2) and out.read_text() == "my plan\n"
    return ok and pool.read_text() == "path\npool/a.png\n", f"exit {rc1}, {rc2}; both files unchanged"


@case("force-input", "--force never lets an output replace an input (fuse, assess)")
def force_input(tmp: Path) -> Outcome:
    j = judgments(tmp / "good.csv")
    before = j.read_bytes()
    rc1, _, e1 = cli("fuse", str(j), "--out", str(j), "--force", "--no-reliability")
    img = png(tmp / "a.png")
    m = tmp / "m.csv"
    m.write_text(f"path\n{img}\n")
    rc2, _, e2 = cli("assess", str(m), "-o", str(m), "--format", "csv", "--force", "-q")
    ok = (
        one_line(rc1, e1)
        and one_line(rc2, e2)
        and j.read_bytes() == before
        and m.read_text() == f"path\n{img}\n"
    )
    return ok, f"fuse exit {rc1}, assess exit {rc2}; inputs unchanged"


@case("sidecar", "a sidecar IMAGE.txt linking to a secret or /proc/self/environ is not read")
def sidecar(tmp: Path) -> Outcome:
    secret = tmp / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-PASSWORD-LINE")
    art = tmp / "art"
    png(art / "a.png")
    (art / "a.txt").symlink_to(secret)
    png(art / "b.png", 1)
    (art / "b.txt").symlink_to("/proc/self/environ")
    out = tmp / "out.jsonl"
    rc, _, _ = cli("assess", str(art), "-o", str(out), "-q")
    text = out.read_text() if out.is_file() else ""
    leaked = "SECRET-PASSWORD-LINE" in text or "PATH=" in text
    errors = text.count("link out of its folder")
    detail = f"assess: leaked {leaked}, {errors} of 2 rows failed with the reason"
    if has("pyarrow", "fsspec"):
        table = tmp / "t.parquet"
        cli("batch", str(art), "-o", str(table))
        import pyarrow.parquet as pq

        cells = " ".join(str(v) for v in pq.read_table(table).to_pydict().get("consistency_prompt", []))
        batch_leak = "SECRET" in cells or "PATH=" in cells
        detail += f"; batch table leaked {batch_leak}"
        leaked = leaked or batch_leak
    return rc in (0, 1) and not leaked and errors == 2, detail


@case("path-oracle", "/v1/assess path: same answer for /etc/ssl/../.. and /etc/nonexistent/../..")
def path_oracle(tmp: Path) -> Outcome:
    client = service_client(tmp)
    with client:
        ok_path = tmp / "allowed" / "ok.png"
        a = client.post("/v1/assess", data={"path": f"/etc/ssl/../..{ok_path}"})
        b = client.post("/v1/assess", data={"path": f"/etc/nonexistent-x/../..{ok_path}"})
        c = client.post("/v1/assess", data={"path": "/etc/passwd"}).json()["detail"]
        d = client.post("/v1/assess", data={"path": "/etc/no-such-file"}).json()["detail"]
    same = a.status_code == b.status_code and c.split(" is missing")[1] == d.split(" is missing")[1]
    return same, f"{a.status_code} vs {b.status_code}; missing vs disallowed: same message {same}"


@case("resume-rows", "assess MANIFEST --output --resume keys on the row (30 prompts, one image)")
def resume_rows(tmp: Path) -> Outcome:
    png(tmp / "one.png")
    m = tmp / "dup.jsonl"
    m.write_text(
        "".join(json.dumps({"path": "one.png", "prompt": f"a red cat number {k}"}) + "\n" for k in range(30))
    )
    out = tmp / "dup_out.jsonl"
    cli("assess", str(m), "-o", str(out), "-q")
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:16]) + "\n")  # as a kill after 16 rows leaves it
    rc, _, _ = cli("assess", str(m), "-o", str(out), "-q", "--resume")
    prompts = {json.loads(x)["consistency"]["prompt"] for x in out.read_text().splitlines() if x.strip()}
    n = len(out.read_text().splitlines())
    return rc == 0 and n == 30 and len(
        prompts
    ) == 30, f"{len(prompts)} of 30 rows after the resume ({n} lines)"


@case("surrogate", "an unpaired surrogate (a Latin-1 byte) in --prompt: one line, not a crash")
def surrogate(tmp: Path) -> Outcome:
    img = png(tmp / "a.png")
    rc, _, err = cli("assess", str(img), "--prompt", os.fsdecode(b"caf\xe9"), "--format", "jsonl", "-q")
    return one_line(rc, err), err.strip()[:100]


@case("csv-formulas", "names starting = @ + - are escaped by assess --format csv, plan-labels, fuse --out")
def csv_formulas(tmp: Path) -> Outcome:
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        png(tmp / "=HYPERLINK(1).png")
        png(tmp / "@SUM(A1).png", 1)
        rc1, _, _ = cli("assess", "=HYPERLINK(1).png", "@SUM(A1).png", "--format", "csv", "-o", "a.csv", "-q")
        pool = tmp / "pool"
        pool.mkdir()
        png(pool / "=cmd.png", 2)
        png(pool / "-x.png", 3)
        rc2, _, _ = cli("plan-labels", str(pool), "--budget", "2", "--out", "plan.csv")
        judgments(tmp / "j.csv", ["=cmd|calc", "@SUM(A1)", "+x", "-y", "plain"])
        rc3, _, _ = cli("fuse", "j.csv", "--out", "fused.csv", "--no-reliability")
    finally:
        os.chdir(cwd)
    bad = 0
    for name in ("a.csv", "plan.csv", "fused.csv"):
        with open(tmp / name, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                bad += sum(1 for c in row if c and c[0] in "=@+-" and not _number(c))
    return rc1 == rc2 == rc3 == 0 and bad == 0, f"formula cells left in 3 files: {bad}"


def _number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


POOLS: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b"   \n\n  \t\n",
    "header only": b"path\n",
    "no path column": b"item,score\na,1\n",
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00binary",
    "blank path": b"path\n\n",
    "unclosed quote": b'path,item\na.png,\n"unclosed,x\n',
    "Latin-1": "path\ncaf\xe9.png\n".encode("latin-1"),
    "duplicate items": b"path,item\na.png,x\nb.png,x\n",
}


@case("pools", f"{len(POOLS)} malformed plan-labels pools: one line each")
def pools(tmp: Path) -> Outcome:
    bad = []
    for name, content in POOLS.items():
        p = tmp / "pool.csv"
        p.write_bytes(content)
        rc, _, err = cli("plan-labels", str(p), "--budget", "1", "--out", str(tmp / "plan.csv"))
        if not one_line(rc, err):
            bad.append(f"{name} ({rc})")
    return not bad, f"{len(POOLS) - len(bad)} of {len(POOLS)} one line" + (
        f"; not: {', '.join(bad)}" if bad else ""
    )


@case("blank-judgments", "a whitespace-only judgments file: one line")
def blank_judgments(tmp: Path) -> Outcome:
    j = tmp / "j.csv"
    j.write_text("  \n\n \n")
    rc, _, err = cli("fuse", str(j))
    return one_line(rc, err), err.strip()[:100]


@case("pickled-bin", "a pickled pytorch_model.bin in vlm:/clip: folders: refused, no code ran")
def pickled_bin(tmp: Path) -> Outcome:
    if not has("transformers", "torch"):
        raise NotRun("needs the [vlm] extra: pip install 'artjudge[vlm]'")
    import torch

    marker = tmp / "CODE-RAN"
    folder = tmp / "downloaded"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl", "architectures": ["X"]}))
    torch.save({"w": _Evil(str(marker))}, folder / "pytorch_model.bin")
    img = png(tmp / "a.png")
    rc1, _, e1 = cli("assess", str(img), "--model", f"vlm:{folder}", "-q", "--format", "jsonl")
    rc2, _, e2 = cli(
        "assess",
        str(img),
        "--prompt",
        "a cat",
        "--consistency-model",
        f"clip:{folder}",
        "-q",
        "--format",
        "jsonl",
    )
    ok = one_line(rc1, e1) and one_line(rc2, e2) and not marker.exists()
    return ok, f"vlm: exit {rc1}, clip: exit {rc2}; code ran: {marker.exists()}"


class _Evil:
    """Unpickling this writes a marker file: proof that a loader ran code it should not have."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (Path(self.marker), "ran"))


@case("npy-header", "an .npy header declaring 373 GiB: one line, no allocation")
def npy_header(tmp: Path) -> Outcome:
    from artjudge.errors import InputError
    from artjudge.io.npy import load_npy

    good = tmp / "exemplars.npy"
    np.save(good, np.zeros((3, 4), np.float32))
    forged = tmp / "forged.npy"
    forged.write_bytes(good.read_bytes().replace(b"(3, 4), ", b"(100000000, 1000)", 1))
    try:
        load_npy(forged)
    except InputError as err:
        return "GiB" in str(err), str(err).split(": ", 1)[1][:90]
    return False, "loaded"


@case("force-swap", "assess --force -o OLD.jsonl/.csv killed mid-run keeps OLD whole")
def force_swap(tmp: Path) -> Outcome:
    for k in range(60):
        png(tmp / "imgs" / f"{k:02d}.png", k, 256)
    seen = []
    for fmt in ("jsonl", "csv"):
        out = tmp / f"old.{fmt}"
        out.write_text("the old results\n")
        proc = artjudge_proc("assess", "imgs", "-o", out.name, "--force", "-q", "--batch-size", "2", cwd=tmp)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:  # kill once new records are being written
            if any(p.stat().st_size > 0 for p in tmp.glob(f".{out.name}.*")):
                break
            time.sleep(0.05)
        killed = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = out.read_text()
        seen.append("old" if text == "the old results\n" else "new" if text.count("\n") >= 60 else "TORN")
        if not killed:
            seen[-1] += " (finished before the kill)"
    return all(x == "old" for x in seen), f"after SIGKILL mid-write: {', '.join(seen)}"


@case("file-url", "a file:// reference does not make a batch partition fall back to one row at a time")
def file_url(tmp: Path) -> Outcome:
    if not has("pyarrow", "fsspec"):
        raise NotRun("needs the [batch] extra: pip install 'artjudge[batch]'")
    ref = png(tmp / "my ref.png")
    for k in range(4):
        png(tmp / f"{k}.png", k + 1)
    m = tmp / "m.csv"
    url = "file://" + str(ref).replace(" ", "%20")
    m.write_text("path,reference\n" + "".join(f"{k}.png,{url}\n" for k in range(4)))
    rc, _, err = cli("batch", str(m), "-o", str(tmp / "t.parquet"))
    import pyarrow.parquet as pq

    errors = [e for e in pq.read_table(tmp / "t.parquet").to_pydict()["error"] if e]
    fell_back = "one by one" in err
    return rc == 0 and not fell_back and not errors, f"fell back: {fell_back}; row errors: {len(errors)}"


@case("cache-oracle", "a cache hit is no faster than a miss and carries its own timings")
def cache_oracle(tmp: Path) -> Outcome:
    client = service_client(tmp)
    with client:
        buf = io.BytesIO()
        Image.open(png(tmp / "w.png", 9)).save(buf, format="PNG")
        client.post("/v1/assess", files={"file": ("w.png", buf.getvalue(), "image/png")})  # load the model
        buf = io.BytesIO()
        Image.open(png(tmp / "x.png", 11, 512)).save(buf, format="PNG")
        t0 = time.perf_counter()
        miss = client.post("/v1/assess", files={"file": ("a.png", buf.getvalue(), "image/png")})
        t_miss = time.perf_counter() - t0
        t0 = time.perf_counter()
        hit = client.post("/v1/assess", files={"file": ("b.png", buf.getvalue(), "image/png")})
        t_hit = time.perf_counter() - t0
    same_shape = set(miss.json()["timings"]) == set(hit.json()["timings"]) == {"service_s"}
    own = miss.json()["timings"] != hit.json()["timings"]
    ok = same_shape and own and t_hit >= 0.7 * t_miss
    return ok, f"miss {t_miss * 1000:.0f} ms, hit {t_hit * 1000:.0f} ms; own timings {own}"


@case("process-output", "process --format json --output f.json: no JSON dump on stdout, no PNG in the cwd")
def process_output(tmp: Path) -> Outcome:
    if not has("torch"):
        raise NotRun("needs the [torch] extra: pip install 'artjudge[torch]'")
    frames = tmp / "frames"
    canvas = np.full((96, 96, 3), 240, np.uint8)
    for i in range(4):
        canvas[8 * i : 8 * i + 32, 8 * i : 8 * i + 32] = (40 * i, 80, 160)
        png_path = frames / f"{i + 1}.png"
        frames.mkdir(exist_ok=True)
        Image.fromarray(canvas.copy()).save(png_path)
    work = tmp / "cwd"
    work.mkdir()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        rc, out, err = cli("process", str(frames), "--format", "json", "--output", str(tmp / "f.json"))
    finally:
        os.chdir(cwd)
    left = [p.name for p in work.iterdir()]
    return (
        rc == 0 and out == "" and not left,
        f"exit {rc}; stdout {len(out)} chars; files in cwd: {left or 'none'}",
    )


@case("progress-log", "assess progress into a log file is clean lines (no bar redraws)")
def progress_log(tmp: Path) -> Outcome:
    for k in range(6):
        png(tmp / "imgs" / f"{k}.png", k)
    log = tmp / "assess.log"
    with log.open("wb") as fh:
        subprocess.run(
            [sys.executable, "-m", "artjudge", "assess", "imgs", "-o", "o.jsonl"],
            cwd=tmp,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    text = log.read_text(errors="replace")
    return (
        "\r" not in text and "assess: 6/6" in text,
        f"carriage returns: {text.count(chr(13))}; lines: {len(text.splitlines())}",
    )


@case("tables-80", "80-column tables do not break names mid-word")
def tables_80(tmp: Path) -> Outcome:
    from artjudge.cli.tables import PlainTable, print_table

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    os.environ["COLUMNS"] = "80"
    names = ["composition", "originality", "emotional_impact", "technique", "colour_harmony", "detail"]
    t = PlainTable("scores", ["input", *names])
    t.add_row("landscape_final_v2.png", *[f"{50 + k}.0" for k in range(len(names))])
    out = Terminal()
    print_table(t, out)
    broken = [n for n in [*names, "landscape_final_v2.png"] if n not in out.getvalue()]
    return not broken, f"names broken: {broken or 'none'}"


@case("speed-write", "benchmarks/speed_assess.py leaves the tracked results alone without --write")
def speed_write(tmp: Path) -> Outcome:
    tracked = ROOT / "benchmarks" / "results" / "speed_assess.json"
    before = tracked.read_bytes() if tracked.is_file() else None
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "speed_assess.py"),
            "--n",
            "2",
            "--n-large",
            "1",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    after = tracked.read_bytes() if tracked.is_file() else None
    wrote = [line for line in r.stdout.splitlines() if line.startswith("wrote ")]
    return before == after and bool(
        wrote
    ), f"tracked file unchanged: {before == after}; {wrote[-1] if wrote else r.stderr[-200:]}"


@case(
    "critique-hint", "critique needing torch on a base install: one line naming the extra, hints not garbled"
)
def critique_hint(tmp: Path) -> Outcome:
    img = png(tmp / "a.png")
    code = (
        "import sys; sys.modules['torch'] = None; from artjudge.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {
        **os.environ,
        "ARTJUDGE_RUNTIME": "torch",
    }  # a model that needs torch, torch absent (as the base install)
    r = subprocess.run(
        [sys.executable, "-c", code, "critique", str(img)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    named = "pip install 'artjudge[torch]'" in r.stderr and "Traceback" not in r.stderr
    _, out, err = cli("critique", str(img), "--model", str(tmp / "no[torch]model"))
    verbatim = "no[torch]model" in out + err  # rich markup used to eat "[torch]" out of install hints
    return (
        r.returncode == 2 and named and verbatim,
        f"exit {r.returncode}; install line named: {named}; brackets kept: {verbatim}",
    )


@case("plan-pairs", "plan-pairs avoids asking one annotator the same pair, and says when it must")
def plan_pairs(tmp: Path) -> Outcome:
    items = tmp / "items.csv"
    items.write_text("item\na\nb\nc\nd\n")
    out = tmp / "plan.csv"
    cli(
        "plan-pairs",
        str(items),
        "--design",
        "round-robin",
        "--budget",
        "12",
        "--annotators",
        "2",
        "--out",
        str(out),
    )
    rows = list(csv.DictReader(out.open()))
    repeats = len(rows) - len({(r["annotator"], frozenset((r["item_a"], r["item_b"]))) for r in rows})
    _, _, err = cli(
        "plan-pairs", str(items), "--design", "round-robin", "--budget", "20", "--annotators", "2",
        "--out", str(out), "--force",
    )  # fmt: skip
    said = "already have" in err
    return repeats == 0 and said, f"avoidable repeats: {repeats}; unavoidable ones reported: {said}"


@case("list-headers", "organiser list and campaign list print a header row")
def list_headers(tmp: Path) -> Outcome:
    if not has("sqlalchemy", "fastapi"):
        raise NotRun("needs the [serve] extra: pip install 'artjudge[serve]'")
    url = f"sqlite:///{tmp / 'db.sqlite'}"
    cli("organiser-token", "--db", url)
    _, a, _ = cli("organiser", "list", "--db", url)
    _, b, _ = cli("campaign", "list", "--db", url)
    ok = a.startswith("id\torganiser") and b.startswith("id\tname")
    return ok, f"{a.splitlines()[0] if a else '-'} | {b.splitlines()[0] if b else '-'}"


# ----------------------------------------------------------------- first round (issue 18)


@case("r1-output-input", "round 1: output over input refused for assess, batch, fuse")
def r1_output_input(tmp: Path) -> Outcome:
    j = judgments(tmp / "j.csv")
    img = png(tmp / "a.png")
    m = tmp / "m.csv"
    m.write_text(f"path\n{img}\n")
    rcs = [
        cli("fuse", str(j), "--out", str(j), "--no-reliability")[0],
        cli("assess", str(m), "-o", str(m), "--format", "csv", "-q")[0],
    ]
    if has("pyarrow", "fsspec"):
        pq = tmp / "m.parquet"
        pq.write_bytes(b"PAR1")
        rcs.append(cli("batch", str(pq), "-o", str(pq))[0])
    return all(rc == 2 for rc in rcs) and m.read_text() == f"path\n{img}\n", f"exits {rcs}"


@case("r1-batch-dups", "round 1: batch resume with 30 duplicate rows keeps 30 of 30")
def r1_batch_dups(tmp: Path) -> Outcome:
    if not has("pyarrow", "fsspec"):
        raise NotRun("needs the [batch] extra: pip install 'artjudge[batch]'")
    png(tmp / "one.png")
    m = tmp / "dup.csv"
    m.write_text("path\n" + "one.png\n" * 30)
    cli("batch", str(m), "-o", str(tmp / "t.parquet"), "--part-size", "8")
    rc, _, _ = cli("batch", str(m), "-o", str(tmp / "t.parquet"), "--part-size", "8")
    import pyarrow.parquet as pq

    n = pq.read_table(tmp / "t.parquet").num_rows
    return n == 30, f"{n} of 30 rows (rerun exit {rc})"


@case("r1-model-folders", "round 1: malicious model folders run no code and answer one line")
def r1_model_folders(tmp: Path) -> Outcome:
    if not has("torch"):
        raise NotRun("needs the [torch] extra: pip install 'artjudge[torch]'")
    import pickle

    import torch

    marker = tmp / "CODE-RAN"
    img = png(tmp / "a.png")
    folders = {}
    f1 = tmp / "pickle-head"
    f1.mkdir()
    torch.save({"state": _Evil(str(marker))}, f1 / "head.pt")
    (f1 / "card.json").write_text(json.dumps({"id": "x", "kind": "embedded"}))
    folders["pickled head.pt"] = f1
    f2 = tmp / "raw-pickle"
    f2.mkdir()
    (f2 / "head.pt").write_bytes(pickle.dumps(_Evil(str(marker))))
    folders["raw pickle"] = f2
    f3 = tmp / "link-out"
    f3.mkdir()
    (f3 / "head.pt").symlink_to("/etc/passwd")
    (f3 / "card.json").write_text("{}")
    folders["head.pt -> /etc/passwd"] = f3
    f4 = tmp / "bad-card"
    f4.mkdir()
    (f4 / "card.json").write_text('{"id": "x", "weights": "../../../../etc/shadow"')
    folders["truncated card"] = f4
    bad = []
    for name, folder in folders.items():
        rc, _, err = cli("assess", str(img), "--model", str(folder), "-q", "--format", "jsonl")
        if not one_line(rc, err):
            bad.append(f"{name} ({rc})")
    ok = not bad and not marker.exists()
    return ok, f"{len(folders) - len(bad)} of {len(folders)} one line; code ran: {marker.exists()}"


@case("r1-manifest-refs", "round 1: hostile manifest references become per-row errors (assess, batch)")
def r1_manifest_refs(tmp: Path) -> Outcome:
    os.mkfifo(tmp / "fifo.png")
    (tmp / "dir.png").mkdir()
    refs = [
        "/etc/passwd", "/dev/zero", "/proc/self/environ", str(tmp / "fifo.png"), str(tmp / "dir.png"),
        str(tmp / "missing.png"), "http://127.0.0.1:9/x.png", "../../../../etc/shadow", "x" * 5000 + ".png",
    ]  # fmt: skip
    png(tmp / "ok.png")
    m = tmp / "m.jsonl"
    m.write_text("".join(json.dumps({"path": r}) + "\n" for r in [*refs, "ok.png"]))
    results = []
    out = tmp / "a.jsonl"
    rc, _, err = cli("assess", str(m), "-o", str(out), "-q")
    rows = [json.loads(x) for x in out.read_text().splitlines()] if out.is_file() else []
    results.append(rc == 0 and sum("error" in r for r in rows) == len(refs) and len(rows) == len(refs) + 1)
    if has("pyarrow", "fsspec"):
        import pyarrow.parquet as pq

        rc2, _, _ = cli("batch", str(m), "-o", str(tmp / "b.parquet"))
        errs = [e for e in pq.read_table(tmp / "b.parquet").to_pydict()["error"] if e]
        results.append(rc2 == 0 and len(errs) == len(refs))
    return all(results), f"{len(refs)} hostile references x {len(results)} entry points: {results}"


@case(
    "r1-kill-writes", "round 1: SIGKILL during fuse --out / plan-labels writes leaves old or new, never torn"
)
def r1_kill_writes(tmp: Path) -> Outcome:
    names = [f"item{k:03d}" for k in range(200)]
    rng = np.random.default_rng(0)
    rows = ["annotator,item_a,item_b,winner"]
    for k in range(6000):
        a, b = rng.choice(200, 2, replace=False)
        rows.append(f"r{k % 12},{names[a]},{names[b]},{'a' if a < b else 'b'}")
    j = tmp / "j.csv"
    j.write_text("\n".join(rows) + "\n")
    out = tmp / "fused.csv"
    out.write_text("OLD\n")
    states = []
    for delay in (1.0, 2.0, 3.0, 4.0, 6.0):
        proc = artjudge_proc("fuse", str(j), "--out", str(out), "--force", "--no-reliability", cwd=tmp)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = out.read_text()
        states.append("old" if text == "OLD\n" else "new" if text.count("\n") >= 200 else "TORN")
    return "TORN" not in states, "states after 5 kills: " + ", ".join(states)


@case("r1-rotated-token", "round 1: a rotated organiser token is refused (401)")
def r1_rotated_token(tmp: Path) -> Outcome:
    if not has("fastapi", "sqlalchemy", "httpx"):
        raise NotRun("needs the [serve] extra: pip install 'artjudge[serve]'")
    sec = _security_tests()
    make_client, auth, ORG = sec.make_client, sec.auth, sec.ORG
    url = f"sqlite:///{tmp / 'org.sqlite'}"
    with make_client(tmp, db_url=url) as c:
        c.post("/v1/campaigns", json={"name": "c", "dimensions": ["x"]}, headers=auth(ORG))
    new = "a-new-organiser-token-after-restart-0123456789"
    with make_client(tmp, db_url=url, organiser_token=new) as c:
        old = c.get("/v1/campaigns", headers=auth(ORG)).status_code
        ok = c.get("/v1/campaigns", headers=auth(new)).status_code
    return old == 401 and ok == 200, f"old token {old}, new token {ok}"


# ------------------------------------------------------------------- service (child process)


def service_cases(args: argparse.Namespace) -> list[tuple[str, str, bool, str]]:
    """Forged X-Forwarded-For, slow headers, SIGKILLs while judgments stream in (service_load.py)."""
    import service_load as sl

    ns = argparse.Namespace(annotators=6, items=12, duration=10.0, hostile_slow=args.slow_connections)
    out = []
    g = sl.guard_phase(ns)
    ff = g["forwarded_for_150"]
    limited = ff["forged_status"].get(429, 0)
    same = abs(limited - ff["plain_status"].get(429, 0)) <= 10
    out.append(("r1-forwarded", "round 1: forged X-Forwarded-For does not dodge the rate limit", limited > 0 and same,
                f"429s with forged headers {limited} of 150, without {ff['plain_status'].get(429, 0)}"))  # fmt: skip
    sw = g["slowloris"]
    out.append(("r1-slowloris", f"round 1: {sw['connections']} slow-header connections are closed", sw["still_open_after_15s"] == 0,
                f"open after 15 s: {sw['still_open_after_15s']}; /health p99 {sw.get('health_p99_ms')} ms"))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="careless-kill-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'k.sqlite'}"
        server = sl.Server(db, sl.free_port())
        server.start()
        try:
            results = [sl.durability_phase(server, db, ns, kill=True) for _ in range(2)]
        finally:
            server.stop()
    acked = sum(r["acknowledged"] for r in results)
    lost = sum(r["lost"] + r["duplicated"] for r in results)
    out.append(("r1-sigkill", "round 1: acknowledged judgments survive SIGKILLs of the server", lost == 0 and acked > 0,
                f"{acked - lost} of {acked} acknowledged stored through {len(results)} kills"))  # fmt: skip
    return out


def service_client(tmp: Path) -> Any:
    """A TestClient of the service with an allowed folder holding ok.png (as the security tests build it)."""
    if not has("fastapi", "sqlalchemy", "httpx"):
        raise NotRun("needs the [serve] extra: pip install 'artjudge[serve]'")
    return _security_tests().make_client(tmp)


def _security_tests() -> Any:
    """tests/test_serve_security.py: the service cases build their app as its tests do (no copy)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module("test_serve_security")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", type=lambda s: [x.strip() for x in s.split(",") if x.strip()], default=None,
                    help="comma-separated case keys (see the table's first column)")  # fmt: skip
    ap.add_argument("--skip-service", action="store_true", help="leave out the cases that start a server")
    ap.add_argument("--slow-connections", type=int, default=100, help="slow-header connections (max 300)")
    args = ap.parse_args()
    args.slow_connections = max(1, min(args.slow_connections, 300))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    rows: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    for key, title, fn in CASES:
        if args.only and key not in args.only:
            continue
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"careless-{key}-") as tmp:
            try:
                held, detail = fn(Path(tmp))
                status = "held" if held else "FAILED"
            except NotRun as why:
                status, detail = "skipped", str(why)
            except Exception as err:  # the case itself broke: that is a failure, with its reason
                status = "FAILED"
                detail = f"case raised {type(err).__name__}: {err}"[:200]
                traceback.print_exc(file=sys.stderr)
        rows.append({"case": key, "what": title, "result": status, "seen": detail, "seconds": round(time.perf_counter() - t0, 1)})  # fmt: skip
        print(f"{status:>7}  {key}: {detail}", file=sys.stderr, flush=True)
    if (
        not args.skip_service
        and (not args.only or any(k.startswith("r1-") for k in args.only))
        and has("httpx", "fastapi")
    ):
        for key, title, held, detail in service_cases(args):
            rows.append({"case": key, "what": title, "result": "held" if held else "FAILED", "seen": detail, "seconds": None})  # fmt: skip
    print_table(
        "careless and hostile use (issue 26; round 1 = issue 18)",
        ["case", "result", "what", "seen"],
        [[r["case"], r["result"], r["what"], r["seen"]] for r in rows],
    )
    n_held = sum(r["result"] == "held" for r in rows)
    n_failed = sum(r["result"] == "FAILED" for r in rows)
    print(f"{n_held} held, {n_failed} failed, {len(rows) - n_held - n_failed} skipped of {len(rows)} cases")
    # only a full run replaces the recorded figures; a partial one goes to the temp folder
    partial = bool(args.only) or args.skip_service
    path = (save_trial_results if partial else save_results)(
        "careless_use",
        {
            "command": " ".join(["python", "benchmarks/careless_use.py", *sys.argv[1:]]),
            "machine": machine(),
            "seconds": round(time.perf_counter() - t_all, 1),
            "held": n_held,
            "failed": n_failed,
            "cases": rows,
        },
    )
    print(f"wrote {path}")
    return 0 if n_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
