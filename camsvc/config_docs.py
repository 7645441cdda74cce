"""docs/configuration.md and config/camsvc.example.yaml, written from the declarations in camsvc/config.py.

The settings are declared once (type, default, limits, description); both files are generated from them:
``make docs`` or ``python -m camsvc.config_docs [ROOT]``. A test fails when the committed files differ.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types as at
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from camsvc.config import Settings

REGENERATE = "make docs (python -m camsvc.config_docs)"
ENV_PREFIX = "CAMSVC_"
ENV_NESTED = "__"


@dataclass(frozen=True)
class Key:
    """One setting: where it sits (``("probe", "budget_s")``) and what its declaration says."""

    path: tuple[str, ...]
    info: FieldInfo

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def env(self) -> str:
        return ENV_PREFIX + ENV_NESTED.join(self.path).upper()

    @property
    def description(self) -> str:
        return self.info.description or ""

    @property
    def default(self) -> Any:
        return self.info.get_default(call_default_factory=True)


@dataclass(frozen=True)
class Section:
    key: Key | None  # None: the top level
    keys: list[Key]


def sections(model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()) -> Iterator[Section]:
    """The model's plain keys first, then each nested section (depth first), in declaration order."""
    nested: list[tuple[Key, type[BaseModel]]] = []
    plain: list[Key] = []
    for name, info in model.model_fields.items():
        key = Key((*prefix, name), info)
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            nested.append((key, sub))
        else:
            plain.append(key)
    if plain or not prefix:
        yield Section(None, plain)
    for key, sub in nested:
        for i, section in enumerate(sections(sub, key.path)):
            yield Section(key, section.keys) if i == 0 else section


def all_keys() -> list[Key]:
    """Every setting, the sections themselves included (each must say what it is for)."""
    out: list[Key] = []
    for section in sections():
        if section.key is not None:
            out.append(section.key)
        out.extend(section.keys)
    return out


def plain_value(value: Any) -> Any:
    """A default as it is written in YAML: paths as text (home as ``~``), enums by value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        home = Path.home()
        return f"~/{value.relative_to(home).as_posix()}" if value.is_relative_to(home) else value.as_posix()
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    return value


def yaml_value(value: Any) -> str:
    """One scalar or flow mapping, quoted only where YAML needs it."""
    text = yaml.safe_dump(plain_value(value), default_flow_style=True, allow_unicode=True, width=1000)
    return text.removesuffix("\n...\n").strip()


_TYPES: dict[Any, str] = {bool: "true/false", int: "integer", float: "number", str: "text", Path: "path"}
_BOUNDS: list[tuple[type, str, str]] = [
    (at.Gt, "gt", ">"),
    (at.Ge, "ge", ">="),
    (at.Lt, "lt", "<"),
    (at.Le, "le", "<="),
]


def allowed(info: FieldInfo) -> str:
    """The type and its limits in words: ``number > 0, <= 120``, ```sub` or `main```."""
    ann = info.annotation
    if get_origin(ann) is Literal:
        return " or ".join(f"`{a}`" for a in get_args(ann))
    kind = _TYPES.get(ann) or ("mapping" if get_origin(ann) is dict else str(ann))
    limits = [
        f"{sign} {getattr(m, attr)}"
        for m in info.metadata
        for cls, attr, sign in _BOUNDS
        if isinstance(m, cls)
    ]
    return ", ".join([f"{kind} {limits[0]}", *limits[1:]]) if limits else kind


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    intro = (
        "Settings come from, highest first: the command's options (e.g. `camsvc serve --port`), the "
        f"environment (`{ENV_PREFIX}*`, a nested key joined with `{ENV_NESTED}`: `CAMSVC_CHECKS__INTERVAL_S=30`), "
        "the YAML file (`$CAMSVC_CONFIG`, else `config/camsvc.yaml` when it exists), the defaults below. "
        "An environment value that is a mapping is written as JSON. Unknown keys are errors; "
        "`camsvc check-config` names every bad key with its path. "
        "`config/camsvc.example.yaml` holds every key with its default."
    )
    lines = [
        "# Configuration",
        "",
        "<!-- generated from the declarations in camsvc/config.py: do not edit; change them, then run",
        f"     `{REGENERATE}` -->",
        "",
        *textwrap.wrap(intro, 110, break_on_hyphens=False),
    ]
    for section in sections():
        lines.append("")
        if section.key is None:
            lines.append("## Top level")
        else:
            lines += [f"## `{section.key.name}`", "", f"{section.key.description}."]
        lines += [
            "",
            "| key | environment | default | allowed | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for k in section.keys:
            lines.append(
                f"| `{k.name}` | `{k.env}` | `{_cell(yaml_value(k.default))}` | {_cell(allowed(k.info))} "
                f"| {_cell(k.description)} |"
            )
    return "\n".join(lines) + "\n"


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, 106 - len(indent), initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# "
    )


def render_yaml() -> str:
    lines = [
        "# camsvc settings, every key with its default. Generated from the declarations in camsvc/config.py",
        f"# by `{REGENERATE}`: do not edit this copy.",
        "# Copy it to config/camsvc.yaml (read automatically) or point CAMSVC_CONFIG at a file, and keep",
        "# only the keys you change. Every key can also be set in the environment (named beside it).",
        "# `camsvc check-config` validates the file and names every bad key with its path.",
        "# docs/configuration.md lists the same keys with their limits.",
    ]
    for section in sections():
        indent = "  " * (len(section.keys[0].path) - 1) if section.keys else ""
        lines.append("")
        if section.key is not None:
            lines += _comment(section.key.description, "  " * (len(section.key.path) - 1))
            lines.append(f"{'  ' * (len(section.key.path) - 1)}{section.key.path[-1]}:")
        for k in section.keys:
            lines += _comment(f"{k.description} [{k.env}]", indent)
            lines.append(f"{indent}{k.path[-1]}: {yaml_value(k.default)}")
    return "\n".join(lines) + "\n"


GENERATED: dict[str, Callable[[], str]] = {
    "docs/configuration.md": render_markdown,
    "config/camsvc.example.yaml": render_yaml,
}


def stale(root: Path) -> list[str]:
    """The generated files under ``root`` whose text differs from what the declarations give."""
    out = []
    for rel, render in GENERATED.items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != render():
            out.append(rel)
    return out


def write(root: Path) -> list[Path]:
    """Write every generated file under ``root``; return the ones that changed."""
    changed = [root / rel for rel in stale(root)]
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(GENERATED[path.relative_to(root).as_posix()](), encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path.cwd()
    changed = write(root)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("configuration docs up to date")


if __name__ == "__main__":  # pragma: no cover
    main()
