"""One YAML loader for everything a person hands camsvc (camera and contact imports, the config file).

``yaml.safe_load`` builds no objects, but it still expands aliases: a "billion laughs" document of a few
hundred bytes (anchors referring to anchors) becomes a structure of billions of nodes once anything walks
it. Fleet, contact and settings files have no use for anchors and aliases, so :func:`safe_load` refuses
them outright, and refuses documents larger than a cap, before building anything.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 20 * 1024 * 1024


class UnsafeYAML(yaml.YAMLError):
    """A document refused before it was built; ``str()`` says why (safe to show)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark

    def __str__(self) -> str:
        where = f" (line {self.problem_mark.line + 1})" if self.problem_mark is not None else ""
        return f"{self.problem}{where}"


class NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors (``&a``) and aliases (``*a``): nothing can be expanded twice."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYAML("YAML aliases (*name) are not accepted in this file", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise UnsafeYAML(f"YAML anchors (&{anchor}) are not accepted in this file", event.start_mark)
        return super().compose_node(parent, index)


def safe_load(text: str | bytes, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse one YAML document of plain data; raises :class:`UnsafeYAML` (a ``yaml.YAMLError``) for a
    document with anchors/aliases or larger than *max_bytes*, and ``yaml.YAMLError`` for bad syntax."""
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > max_bytes:
        raise UnsafeYAML(f"YAML document of {size} bytes is larger than the {max_bytes} bytes accepted")
    return yaml.load(text, Loader=NoAliasLoader)
