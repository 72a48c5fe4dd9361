"""Every command shown in README.md and docs/*.md still exists as written.

Each ```bash block is read; every ``artjudge ...`` line is parsed by the real argparse
parser (subcommand, flags, choices, types, required arguments), so a renamed flag or
command fails here instead of in a newcomer's terminal. The cheap ones (no server, no
model download, inputs that a test can make: a few images, simulated judgments) also run
for real in a scratch folder. ``python scripts/...`` and ``python benchmarks/...`` lines
must name files that exist.

    python tests/test_readme_examples.py      # the list of every command with pass / fail
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHARED_DATA = REPO.parent / "shared" / "data"

#: Subcommands cheap enough to run for real (seconds on 2 cores, no network, no big model).
CHEAP = {"assess", "critique", "datasets", "plan-pairs", "fuse", "models"}
#: Flags whose value is an input that must exist before a command can run.
INPUT_FLAGS = {
    "--ratings",
    "--judgments",
    "--labels",
    "--images",
    "--items",
    "--pool",
    "--features",
    "--manifest",
    "--reference",
    "--predictions",
    "--data-root",
    "--base",
    "--model",  # a checkpoint folder or student file the docs assume was trained first
}


@dataclass(frozen=True)
class Example:
    """One command line from the docs: where it is, the text, and its words."""

    where: str  # file:line
    text: str
    argv: tuple[str, ...]

    @property
    def is_artjudge(self) -> bool:
        return bool(self.argv) and self.argv[0] == "artjudge"

    @property
    def doc(self) -> str:
        return self.where.rsplit(":", 1)[0]

    def inputs(self) -> list[str]:
        """Positional arguments and input-flag values, as argparse reads them: what must exist."""
        from artjudge.cli import build_parser

        sub = _subparser(build_parser(), list(self.argv[1:]))
        if sub is None:
            return []
        parser, words = sub
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                ns = parser.parse_args(words)
        except SystemExit:
            return []
        out: list[str] = []
        for action in parser._actions:
            if action.option_strings and not set(action.option_strings) & INPUT_FLAGS:
                continue
            value = getattr(ns, action.dest, None)
            if "--model" in action.option_strings:  # 'default' is shipped; student:PATH names a file
                value = None if value == "default" else str(value).removeprefix("student:")
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, list):
                out += [v for v in value if isinstance(v, str)]
        return out


def _subparser(
    parser: argparse.ArgumentParser, words: list[str]
) -> tuple[argparse.ArgumentParser, list[str]] | None:
    """The (sub-)subparser a command line ends in, and the words it parses."""
    while words:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or words[0] not in subs[0].choices:
            return parser, words
        parser, words = subs[0].choices[words[0]], words[1:]
    return parser, words


def _commands(block: str, first_line: int) -> Iterator[tuple[int, str]]:
    """(line number, command) for each command in a bash block: continuations joined, && split."""
    lines = block.split("\n")
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        while text.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text.rstrip()[:-1] + " " + lines[i].strip()
        i += 1
        for part in text.split("&&"):
            if part.strip() and not part.strip().startswith("#"):
                yield first_line + start, part.strip()


def examples() -> list[Example]:
    """Every command in the ```bash blocks of README.md and docs/*.md, in document order."""
    found: list[Example] = []
    for doc in DOC_FILES:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"^```(?:bash|sh|shell|console)\n(.*?)^```", text, re.S | re.M):
            first = text.count("\n", 0, m.start(1)) + 1
            for line_no, cmd in _commands(m.group(1), first):
                try:
                    argv = tuple(shlex.split(cmd, comments=True))
                except ValueError:
                    argv = ()
                found.append(Example(f"{doc.relative_to(REPO)}:{line_no}", cmd, argv))
    return found


def parse_problem(ex: Example) -> str | None:
    """None when argparse accepts the command as written, else its one-line complaint."""
    from artjudge.cli import build_parser

    parser = build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            args = parser.parse_args(list(ex.argv[1:]))
    except SystemExit as stop:
        if stop.code in (0, None):
            return None
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        return lines[-1] if lines else f"argparse exited with {stop.code}"
    if not getattr(args, "func", None):
        return "no command"
    return None


def other_problem(ex: Example) -> str | None:
    """For a non-artjudge line: a `python scripts/x.py` or `bash x.sh` must name an existing file."""
    words = list(ex.argv)
    if len(words) >= 2 and words[0] in ("python", "python3", "bash") and not words[1].startswith("-"):
        return None if (REPO / words[1]).is_file() else f"{words[1]}: no such file in the repository"
    if words and words[0].startswith("scripts/"):
        return None if (REPO / words[0]).is_file() else f"{words[0]}: no such file in the repository"
    return None


def runnable(ex: Example, workdir: Path) -> bool:
    """Cheap enough and every input present in ``workdir``: then it runs for real."""
    if not ex.is_artjudge or len(ex.argv) < 2 or ex.argv[1] not in CHEAP:
        return False
    if any(w.startswith(("vlm:", "http://", "https://", "s3://", "gs://")) for w in ex.argv):
        return False
    for item in ex.inputs():
        if not (glob.glob(str(workdir / item), recursive=True) or (workdir / item).exists()):
            return False
    return True


def make_workdir(root: Path, doc: str = "README.md") -> Path:
    """A scratch folder with the inputs ``doc``'s examples name: images, items, judgments, ratings.

    docs/datasets.md's ``ratings.csv`` is a dataset's label file, not people's ratings of
    pairs, so that document gets its own file in its own layout.
    """
    import numpy as np
    import pandas as pd

    from artjudge.preference.design import PairDesigner
    from artjudge.preference.simulate import Panel, simulate_judgments, simulate_ratings

    root.mkdir(parents=True, exist_ok=True)
    (root / "examples").mkdir(exist_ok=True)
    sunset = REPO / "examples" / "sunset.jpg"
    for name in ("examples/sunset.jpg", "one.jpg", "painting.jpg"):
        shutil.copyfile(sunset, root / name)
    items = [f"item{k:02d}" for k in range(12)]
    rng = np.random.default_rng(0)
    mean = pd.Series(rng.uniform(20, 90, len(items)), index=items)
    std = pd.Series(12.0, index=items)
    panel = Panel.make(4, bias_sd=6)
    plan = PairDesigner("dense", budget=120, annotators=panel.annotators).plan(items)
    simulate_judgments(plan, mean, std, panel, tie_margin=2).to_csv(root / "judgments.csv", index=False)
    ratings = simulate_ratings(items, mean, std, panel, 2, (0, 100), step=1)
    ratings["score"] = 1 + (ratings["score"] / 25).round()  # the docs' example uses a 1-5 scale
    ratings.to_csv(root / "ratings.csv", index=False)
    pd.DataFrame({"item": items}).to_csv(root / "items.csv", index=False)
    if (SHARED_DATA / "labels").is_dir():
        (root / "labels").symlink_to(SHARED_DATA / "labels")
    if doc == "docs/datasets.md":
        n = 12
        for k in range(n):
            shutil.copyfile(sunset, root / f"img{k}.jpg")
        pd.DataFrame(
            {
                "file": [f"img{k}.jpg" for k in range(n)],
                "rating": rng.integers(1, 11, n),
                "color": rng.integers(1, 11, n),
                "composition": rng.integers(1, 11, n),
                "part": ["train"] * 8 + ["val"] * 2 + ["test"] * 2,
                "sd": rng.uniform(0.5, 2, n),
                "style": ["oil"] * 6 + ["ink"] * 6,
            }
        ).to_csv(root / "ratings.csv", index=False)
    return root


def run_example(ex: Example, workdir: Path) -> tuple[int, str]:
    """Run an artjudge command in ``workdir`` in this process; (exit code, its stderr tail)."""
    import os

    from artjudge.cli import main

    err = io.StringIO()
    before = os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(list(ex.argv[1:]))
    finally:
        os.chdir(before)
    tail = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    return code, (tail[-1] if tail else "")


EXAMPLES = examples()
ARTJUDGE = [e for e in EXAMPLES if e.is_artjudge]


def test_the_docs_have_examples() -> None:
    assert len(ARTJUDGE) > 40, "the bash blocks were not found: did the docs' code fences change?"
    assert any(e.argv[:2] == ("artjudge", "fuse") for e in ARTJUDGE)


@pytest.mark.parametrize("ex", ARTJUDGE, ids=[e.where for e in ARTJUDGE])
def test_every_documented_command_parses(ex: Example) -> None:
    problem = parse_problem(ex)
    assert problem is None, f"{ex.where}: `{ex.text}`: {problem}"


@pytest.mark.parametrize(
    "ex", [e for e in EXAMPLES if not e.is_artjudge], ids=[e.where for e in EXAMPLES if not e.is_artjudge]
)
def test_documented_scripts_exist(ex: Example) -> None:
    problem = other_problem(ex)
    assert problem is None, f"{ex.where}: `{ex.text}`: {problem}"


def test_a_renamed_flag_is_caught() -> None:
    bad = Example(
        "test",
        "artjudge fuse judgments.csv --ratingz r.csv",
        ("artjudge", "fuse", "judgments.csv", "--ratingz", "r.csv"),
    )
    assert "unrecognized arguments: --ratingz" in str(parse_problem(bad))
    assert "invalid choice" in str(parse_problem(Example("test", "artjudge data", ("artjudge", "data"))))


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readme")
    return {doc: make_workdir(root / doc.replace("/", "_"), doc) for doc in {e.doc for e in CHEAP_EXAMPLES}}


def _cheap() -> list[Example]:
    names = make_workdir_names()
    return [e for e in ARTJUDGE if e.argv[1:2] and e.argv[1] in CHEAP and _inputs_known(e, names)]


def make_workdir_names() -> set[str]:
    """The inputs :func:`make_workdir` provides (to choose the runnable examples at collection)."""
    names = {"examples/sunset.jpg", "one.jpg", "painting.jpg", "judgments.csv", "ratings.csv", "items.csv"}
    names |= {f"img{k}.jpg" for k in range(12)}
    if (SHARED_DATA / "labels").is_dir():
        names |= {"labels/" + p.name for p in (SHARED_DATA / "labels").iterdir()}
    return names


def _inputs_known(ex: Example, names: set[str]) -> bool:
    if any(w.startswith(("vlm:", "http://", "https://", "s3://", "gs://")) for w in ex.argv):
        return False
    return all(item.rstrip("/") in names for item in ex.inputs())


CHEAP_EXAMPLES = _cheap()


@pytest.mark.slow
@pytest.mark.parametrize("ex", CHEAP_EXAMPLES, ids=[e.where for e in CHEAP_EXAMPLES])
def test_cheap_examples_run(ex: Example, workdirs: dict[str, Path]) -> None:
    workdir = workdirs[ex.doc]
    assert runnable(ex, workdir)
    code, tail = run_example(ex, workdir)
    assert code == 0, f"{ex.where}: `{ex.text}` exited {code}: {tail}"


def report() -> int:
    """Print every documented command with pass / fail (parse, and run where cheap)."""
    import tempfile

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        works = {
            doc: make_workdir(Path(tmp) / doc.replace("/", "_"), doc) for doc in {e.doc for e in EXAMPLES}
        }
        for ex in EXAMPLES:
            work = works[ex.doc]
            if ex.is_artjudge:
                problem = parse_problem(ex)
                status = "parses"
                if problem is None and runnable(ex, work):
                    code, tail = run_example(ex, work)
                    status = "ran"
                    problem = None if code == 0 else f"exit {code}: {tail}"
            else:
                problem = other_problem(ex)
                status = (
                    "file exists"
                    if ex.argv[:1]
                    and ex.argv[0] in ("python", "python3", "bash")
                    or ex.argv[:1]
                    and ex.argv[0].startswith("scripts/")
                    else "not checked"
                )
            failures += problem is not None
            verdict = "FAIL" if problem else "pass"
            print(f"{verdict}\t{status}\t{ex.where}\t{ex.text}" + (f"\t{problem}" if problem else ""))
    print(f"{len(EXAMPLES)} commands, {failures} failing", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(report())
