"""``artjudge critique``, ``artjudge describe-dataset`` and ``artjudge judge-text``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artjudge.io.files import atomic_write_json, refuse_overwrite

if TYPE_CHECKING:
    from rich.console import Console

    from artjudge.critique.base import Critique
    from artjudge.features.evidence import Evidence


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("critique", help="write a critique of an image, grounded in measured evidence")
    p.add_argument("image", help="image file")
    p.add_argument("--model", default="default", help="scorer for the overall score (default: embedded)")
    p.add_argument(
        "--score", type=float, default=None, help="use this 0-100 score instead of running a scorer"
    )
    p.add_argument("--no-score", action="store_true", help="describe only; pass no verdict")
    p.add_argument("--language", default="en")
    p.add_argument(
        "--json", dest="json_out", default=None, help="also write the record (with critique) as JSON"
    )
    p.add_argument("--evidence", action="store_true", help="print the evidence table too")
    p.add_argument("--force", action="store_true", help="replace an existing --json file (never the image)")
    p.set_defaults(func=cmd_critique)

    d = subparsers.add_parser(
        "describe-dataset",
        help="score-conditioned hierarchical descriptions of a dataset, checked by a judge model",
    )
    d.add_argument(
        "manifest",
        help="artjudge manifest (.jsonl/.parquet + .meta.json) or CSV/JSONL "
        "with image_id, path, score (0-100) [, text, category, attr.*]",
    )
    d.add_argument(
        "--generator", required=True, help="http(s)://host:port[/v1] (OpenAI-compatible) or hf:PATH"
    )
    d.add_argument("--judge", required=True, help="http(s)://... or hf:PATH")
    d.add_argument("--generator-model", default="default", help="model name sent to the generator endpoint")
    d.add_argument("--judge-model", default="default", help="model name sent to the judge endpoint")
    d.add_argument("--out", required=True, help="output JSONL (appended; re-running resumes)")
    d.add_argument("--template", default="auto", choices=["auto", "apddv2", "score-only"])
    d.add_argument("--max-attempts", type=int, default=3, help="generations per image before giving up")
    d.add_argument("--retries", type=int, default=4, help="HTTP retries per request (exponential backoff)")
    d.add_argument("--backoff", type=float, default=1.0, help="first backoff in seconds (doubles each retry)")
    d.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")
    d.add_argument("--limit", type=int, default=None, help="process at most this many new images")
    d.set_defaults(func=cmd_describe)

    j = subparsers.add_parser(
        "judge-text", help="an LLM judge picks the best of N analyses against an expert text"
    )
    j.add_argument("items", help="JSONL: {id, reference, candidates: {system: text}, human_pick?}")
    j.add_argument("--judge", required=True, help="http(s)://... or hf:PATH")
    j.add_argument("--judge-model", default="default")
    j.add_argument("--retries", type=int, default=4)
    j.add_argument("--backoff", type=float, default=1.0)
    j.add_argument("--timeout", type=float, default=120.0)
    j.add_argument("--bootstrap", type=int, default=1000)
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--out", default=None, help="write the report JSON here (per-item picks included)")
    j.add_argument("--force", action="store_true", help="replace an existing --out file (never the items)")
    j.set_defaults(func=cmd_judge_text)


def _image_for_measuring(path: str) -> tuple[Any, str]:
    """The validated image, but with its alpha kept so the critique can say what is transparent.

    One decode through the loader (``keep_alpha=True``): the same checks, EXIF and ICC
    handling as the score, with transparency left as RGBA instead of composited on white.
    """
    from artjudge.io.images import load_image

    loaded = load_image(path, keep_alpha=True)
    return loaded.image, loaded.sha256


def _record(args: argparse.Namespace) -> tuple[Any, Any, str | None]:
    """The scorer's Assessment and its rubric critic (None without rubric.json), or Nones with a
    warning when no score is wanted or possible."""
    if args.no_score or args.score is not None:
        return None, None, None
    try:
        import artjudge
        from artjudge.critique.rubric import RubricCritic
        from artjudge.models.embedded import EmbeddedScorer

        scorer = artjudge.load(args.model)
        critic = scorer.critic if isinstance(scorer, EmbeddedScorer) else None
        return scorer.assess(args.image), critic if isinstance(critic, RubricCritic) else None, None
    except ModuleNotFoundError:
        raise  # a missing extra: `main` says which one to install, rather than a generic critique
    except Exception as err:  # noqa: BLE001 - any scorer failure degrades to an unscored critique
        return None, None, f"no score ({type(err).__name__}: {err}); the critique describes measurements only"


def _print_critique(console: Console, image: str, crit: Critique, language: str) -> None:
    """The critique on the terminal: limitations, overall, attributes, levels, notes."""
    from artjudge.critique.phrasebook import load_phrasebook
    from artjudge.taxonomy import LEVEL_DEFINITIONS

    names = {"overall": "Overall"}
    book = load_phrasebook(language)
    names.update(book.section("attribute_names"))
    console.rule(f"[bold]{image}")
    for s in crit.limitations:
        console.print(f"[red]! {s.text}[/red]")
    if crit.overall:
        console.print(f"[bold]Overall[/bold]  {crit.paragraph(crit.overall)}")
        console.print()
    for key, sents in crit.attributes.items():
        console.print(
            f"[bold cyan]{names.get(key, key.replace('_', ' ').capitalize())}[/bold cyan]  "
            f"{crit.paragraph(sents)}"
        )
    if crit.attributes:
        console.print()
    for level, sents in crit.levels.items():
        console.print(
            f"[bold magenta]{book.section('level_names')[level]}[/bold magenta] "
            f"[dim]({LEVEL_DEFINITIONS[level]})[/dim]  {crit.paragraph(sents)}"
        )
    for note in crit.notes:
        console.print(f"[dim]{note}[/dim]")


def _print_evidence(console: Console, evidence: Evidence) -> None:
    """The measured evidence as a table: value, unit, percentile among training images, qualifier."""
    from rich.table import Table

    table = Table(title="evidence")
    for col in ("key", "value", "unit", "percentile", "qualifier"):
        table.add_column(col)
    for k, m in evidence.items():
        table.add_row(
            k,
            f"{m.value:.4g}",
            m.unit,
            "-" if m.percentile is None else f"{m.percentile:.0f}",
            m.qualifier if m.valid else "not judged",
        )
    console.print(table)


def cmd_critique(args: argparse.Namespace) -> int:
    from rich.console import Console

    from artjudge.critique import compose
    from artjudge.features.evidence import measure
    from artjudge.models.spec import parse_spec

    # before any work: an existing --json file only with --force, and never the image itself
    refuse_overwrite(args.json_out, [args.image], force=args.force, option="--json")
    image, sha = _image_for_measuring(args.image)
    record, rubric_critic, warning = _record(args)
    console = Console()
    if warning:
        # plain text: an install hint's "artjudge[torch]" is not rich markup to strip
        console.print(f"artjudge: {warning}", style="yellow", markup=False, highlight=False)
    evidence = measure(image)
    spec = parse_spec(args.model, "scorer")
    if spec.scheme == "vlm" and record is not None:
        # a vision-language model writes its own words; the evidence is still measured and kept
        from artjudge.critique.vlm import load_vlm_critic

        crit = load_vlm_critic(spec.target).critique(image, record)
    elif rubric_critic is not None and record is not None:
        # a rubric model leads with the user's own rubric, standings and exemplars
        crit = rubric_critic.critique(
            image, record, evidence=evidence, features=rubric_critic.features_of(args.image)
        )
    else:
        crit = compose(record if record is not None else args.score, evidence, language=args.language)
    _print_critique(console, args.image, crit, args.language)
    if args.evidence:
        _print_evidence(console, evidence)
    if args.json_out:
        out: dict[str, Any]
        if record is not None:
            record.set_evidence(evidence.to_dict())
            record.set_critique(crit.to_dict())
            out = record.to_dict()
        else:
            out = {
                "input": args.image,
                "sha256": sha,
                "overall": None if args.score is None else {"score": args.score},
                "evidence": evidence.to_dict(),
                "critique": crit.to_dict(),
            }
        atomic_write_json(args.json_out, out)
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from artjudge.critique.backends import backend_from_spec
    from artjudge.critique.describe import describe_dataset, items_from_frame, read_items

    # --out is appended to (a rerun resumes), so an existing one is expected; never the manifest
    refuse_overwrite(args.out, [args.manifest], option="--out", replace_existing=True)
    if Path(str(args.manifest) + ".meta.json").is_file():  # an artjudge manifest: data reads it
        from artjudge.data.manifest import Manifest

        man = Manifest.load(Path(args.manifest))
        items = items_from_frame(man.frame, str(args.manifest), man.images_root)
    else:
        items = read_items(args.manifest)
    gen = backend_from_spec(
        args.generator,
        model=args.generator_model,
        retries=args.retries,
        backoff=args.backoff,
        timeout=args.timeout,
    )
    judge = backend_from_spec(
        args.judge, model=args.judge_model, retries=args.retries, backoff=args.backoff, timeout=args.timeout
    )
    counts = describe_dataset(
        items,
        args.out,
        gen,
        judge,
        template=args.template,
        max_attempts=args.max_attempts,
        limit=args.limit,
        progress=sys.stderr.isatty(),
    )
    print(
        f"described {counts['written']} images ({counts['agreed']} agreed with their score), "
        f"skipped {counts['skipped']} already done, {counts['failed']} failed -> {args.out}"
    )
    return 0 if counts["written"] or counts["skipped"] or not items else 1


def cmd_judge_text(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from artjudge.critique.backends import backend_from_spec
    from artjudge.critique.judge_text import judge_items, read_text_items, summarise

    # before any judge call: an existing --out only with --force, and never the items file
    refuse_overwrite(args.out, [args.items], force=args.force, option="--out")
    items = read_text_items(args.items)
    judge = backend_from_spec(
        args.judge, model=args.judge_model, retries=args.retries, backoff=args.backoff, timeout=args.timeout
    )
    rows = judge_items(items, judge, seed=args.seed)
    report = summarise(rows, n_boot=args.bootstrap, seed=args.seed)
    table = Table(title=f"judge picks over {report['n_items']} items (chance {report['chance']:.2f})")
    for col in ("system", "picked", "rate", "95% CI"):
        table.add_column(col)
    for name, r in report["selection"].items():
        table.add_row(name, str(r["picked"]), f"{r['rate']:.3f}", f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]")
    console = Console()
    console.print(table)
    if "human_agreement" in report:
        h = report["human_agreement"]
        console.print(
            f"agreement with human picks: {h['accuracy']:.3f} "
            f"[{h['ci95'][0]:.3f}, {h['ci95'][1]:.3f}] over {h['n']} items, kappa {h['cohen_kappa']:.3f}"
        )
    if report["n_unparsed"]:
        console.print(f"[yellow]{report['n_unparsed']} replies named no valid candidate[/yellow]")
    if args.out:
        atomic_write_json(args.out, {"report": report, "items": rows})
    return 0
