from __future__ import annotations

from tests.utils.simulator import simulator_fixture

sim = simulator_fixture(2, 1)
