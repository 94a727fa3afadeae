"""Errors the core raises for bad input, each with a message fit to show a user as is.

The CLI prints ``str(error)`` and exits non-zero; the app shows it in an info box. Anything
that is not a :class:`WorkbenchError` is a bug.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: bad input or state the user can fix; ``str(err)`` is the message."""


class DataError(WorkbenchError):
    """A data folder or file cannot be used (missing files or columns, wrong format)."""


class ArtifactError(WorkbenchError):
    """Built artifacts are missing, stale or corrupt (they can be rebuilt).

    ``components`` names the parts that need rebuilding, when known.
    """

    components: set[str] | None = None


class UnknownUser(WorkbenchError):
    """A user id that has no ratings in the catalogue."""

    def __init__(self, user_id: object, examples: list[int] | None = None) -> None:
        hint = ""
        if examples:
            hint = " Try one of: " + ", ".join(str(u) for u in examples[:5]) + "."
        super().__init__(f"User {user_id} has no ratings in this catalogue.{hint}")
        self.user_id = user_id


class UnknownTitle(WorkbenchError):
    """A title that matches no movie well enough; carries the closest suggestions."""

    def __init__(self, text: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = suggestions or []
        hint = ""
        if self.suggestions:
            hint = " Did you mean: " + "; ".join(self.suggestions[:5]) + "?"
        super().__init__(f"No movie matches {text!r}.{hint}")
        self.text = text


class EmptyQuery(WorkbenchError):
    """A query with nothing to search for."""

    def __init__(self, message: str = "Please describe the movie you are looking for.") -> None:
        super().__init__(message)
