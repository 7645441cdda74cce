"""The real simulator as a pytest fixture, started once per module (or session) and always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from camsvc.simulate.harness import Simulator


def simulator_fixture(
    roadside: int, household: int, *, scope: Literal["module", "session"] = "module", **kw: Any
) -> Callable[..., Any]:
    """A fixture yielding a running :class:`Simulator` (fleet files in a pytest temporary directory);
    assign it in a test module or conftest: ``sim = simulator_fixture(6, 14)``. *kw* go to Simulator."""

    @pytest.fixture(scope=scope)
    def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
        with Simulator(
            roadside=roadside, household=household, out_dir=tmp_path_factory.mktemp("sim"), **kw
        ) as s:
            yield s

    return sim


# simulator picture fault -> the cause(s) the service must name for it
PICTURE_FAULT_CAUSES: dict[str, set[str]] = {
    "black": {"black"},
    "frozen": {"frozen"},
    "blurred": {"blurred"},
    "covered": {"covered"},
    "snow": {"snow"},
    "turned": {"turned"},
    "lowfps": {"low_fps"},
}
