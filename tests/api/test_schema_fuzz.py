"""Property-based run over the OpenAPI schema (Schemathesis) with an admin token: no request the schema
allows, however odd, may make the service answer 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from camsvc.app import create_app
from camsvc.config import Settings
from tests.utils.auth import signed_in_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CSV = """id,name,kind,hamlet,address,latitude,longitude,main_url,username,password,enabled
cam-1,Cổng chợ,roadside,Bắc Chiến Thắng,QL1A,18.98,105.61,rtsp://10.0.0.1/s,admin,pw-known-1,true
cam-2,Nhà ông Ba,household,Nam Chiến Thắng,xóm 2,18.97,105.60,rtsp://10.0.0.2/s,,,true
"""


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    data = Path(tmp_path_factory.mktemp("fuzz")) / "data"
    # Schemathesis' ASGI client calls itself "testserver"
    settings = Settings(data_dir=data, auth={"allowed_hosts": ["testserver", "127.0.0.1"]})
    app = create_app(settings, start_runtime=False)
    with signed_in_client(app) as c:
        r = c.post("/api/cameras/import", files={"file": ("fleet.csv", CSV.encode(), "text/csv")})
        assert r.status_code == 200, r.text
        yield app, {"Authorization": c.headers["Authorization"]}


def test_no_request_the_schema_allows_gets_a_5xx(fuzz_app: tuple[Any, dict[str, str]]) -> None:
    app, headers = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=headers)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                )

        run()
    assert operations > 40  # the whole API was walked, not an empty schema
    assert not failures, "\n".join(sorted(set(failures)))
