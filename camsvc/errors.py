"""The project's own exceptions, raised by domain code and translated once at the edge.

:class:`NotFound`: what was asked for (by id or name) does not exist. The API answers 404 with the message
as ``detail`` (one handler in :func:`camsvc.app.create_app`); the CLI prints the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlmodel import Session

T = TypeVar("T")


class NotFound(LookupError):
    """A contact, channel, rule, incident, outage, message ... that does not exist; the message names it."""


def get_or_raise(session: Session, model: type[T], ident: Any, what: str) -> T:
    """The row with this primary key, or NotFound('<what> <ident> not found')."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(f"{what} {ident} not found")
    return row
