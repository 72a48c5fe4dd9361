"""artjudge: judge art the way trained people do.

The two entry points most users need::

    import artjudge
    scorer = artjudge.load()              # the embedded default, offline, on CPU
    record = scorer.assess("painting.jpg")
    print(record.overall.score, record.overall.std)

Heavy modules load lazily, so ``import artjudge`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from artjudge.models.base import Scorer


def load(model: str = "default", **kwargs: Any) -> Scorer:
    """A scorer (the ``Scorer`` protocol) by spec: ``default``, a checkpoint folder, ``vlm:PATH``,
    ``student:PATH``; ``list_models()`` names them all."""
    from artjudge.api import load as _load

    return _load(model, **kwargs)


def list_models(role: str | None = None) -> list[str]:
    """The model specs of every kind (scorers as :func:`load` takes them, then ``process:``,
    ``consistency:`` and ``judge:`` specs), or of one ``role``; see ``artjudge.api.list_models``."""
    from artjudge.api import list_models as _list

    return _list(role)


def load_process_judge(model: str = "default", **kwargs: Any) -> Any:
    """Load the painting-process judge (see ``artjudge.models.process``)."""
    from artjudge.models.process import load_process_judge as _load

    return _load(model, **kwargs)


__all__ = ["__version__", "list_models", "load", "load_process_judge"]
