"""The project's own exceptions, raised by domain code and translated once at the edge.

:class:`NotFound`: what was asked for (by id or name) does not exist. The API answers 404 with the message
as ``detail`` (one handler in :func:`camsvc.app.create_app`); the CLI prints the message.
"""

from __future__ import annotations


class NotFound(LookupError):
    """A contact, channel, rule, incident, outage, message ... that does not exist; the message names it."""
