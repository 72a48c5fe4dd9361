"""Exceptions that carry one clear, user-facing line: the input and the reason."""

from __future__ import annotations


class ArtjudgeError(Exception):
    """Base class: ``str(err)`` is the single line shown to the user."""


class InputError(ArtjudgeError):
    """An input (file, upload, row) that cannot be used, and why."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class ModelNotAvailable(ArtjudgeError):
    """Weights that are not on this machine, with instructions for pointing at them."""


class Unsupported(ArtjudgeError):
    """A request a model cannot serve (a prompt for a scorer without a consistency component,
    critique from a scorer built without a critic): the model and what it cannot do, one line.

    The service answers it with HTTP 422: the request is well formed, this model cannot do it.
    """
