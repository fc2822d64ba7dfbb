"""Property-based fuzzing of every operation in the API's own OpenAPI schema (schemathesis).

The app runs in this process (``create_app``, one worker, a fresh data dir, offline), its
lifespan started and stopped by schemathesis' ASGI transport. Every operation is fuzzed with
data that fits its schema (positive), and, where it has a body or query parameters to break,
with data that does not (negative). A bounded, derandomized number of requests must get:

* never a 5xx (a 500 is a bug by the API's own contract);
* the declared content type; for JSON, strict JSON with no NaN or Infinity anywhere;
* an error as ``{"detail": ...}`` (what hummingbot-api-client reads);
* positive: a status code the operation declares, and a 2xx body that fits its declared
  schema; negative: a 4xx (``negative_data_rejection``).

Focused tests below pin disagreements found earlier (undeclared 400/404, a 422 body off its
schema, a malformed Basic header answered 401 with auth off), now fixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.python.asgi import shutdown_lifespans

from hbbacktest.api.app import create_app
from hbbacktest.config.settings import Settings

MAX_EXAMPLES = 20
# The app has no credentials: random Authorization headers would only meet
# test_a_malformed_basic_header_is_ignored_when_auth_is_off (auth is tested live).
CONFIG = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
SPEC: dict[str, Any] = create_app(Settings(data_dir=Path("unused"), offline=True)).openapi()
RUN_PATHS = ("/backtesting/run", "/backtesting/run-backtesting", "/run-backtesting")


def _cases() -> dict[str, list[tuple[str, str, GenerationMode]]]:
    """Tag → (method, path, mode) of its operations; negative where there is something to break.

    One test per tag, not per operation: schemathesis' pytest plugin ends the app's lifespan
    after every test, and starting it again (a worker process) costs about a second.
    """
    cases: dict[str, list[tuple[str, str, GenerationMode]]] = {}
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            tagged = cases.setdefault(operation["tags"][0], [])
            tagged.append((method.upper(), path, GenerationMode.POSITIVE))
            breakable = [p for p in operation.get("parameters", []) if p["in"] != "path"]
            if breakable or operation.get("requestBody"):
                tagged.append((method.upper(), path, GenerationMode.NEGATIVE))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    """The schema of a real app (its own data dir, one worker).

    schemathesis' plugin ends the app's lifespan after each test and the next request starts
    it again; whatever runs at the end of the module is stopped here.
    """
    folder = tmp_path_factory.mktemp("fuzz")
    app = create_app(Settings(data_dir=folder / "data", offline=True), workers=1)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    finally:
        shutdown_lifespans()


def strict_json(raw: bytes) -> Any:
    """Parse JSON, refusing NaN and Infinity (which ``json`` accepts by default)."""

    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(raw, parse_constant=refuse)


def declared(method: str, path: str) -> set[int]:
    return {int(code) for code in SPEC["paths"][path][method.lower()]["responses"]}


def test_every_operation_is_fuzzed() -> None:
    cases = [case for tagged in CASES.values() for case in tagged]
    assert len({(method, path) for method, path, _ in cases}) >= 25
    assert sum(len(ops) for ops in SPEC["paths"].values()) == len({(m, p) for m, p, _ in cases})
    for path in ["/backtesting/run", "/controllers/configs/{config_name}"]:
        assert ("POST", path, GenerationMode.NEGATIVE) in cases


def fuzz_operation(
    schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> dict[int, int]:
    """Fuzz one operation in one mode; the statuses seen, counted."""
    operation = schema[path][method]
    allowed = declared(method, path)
    positive = mode is GenerationMode.POSITIVE
    seen: dict[int, int] = {}

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call()
        status = response.status_code
        seen[status] = seen.get(status, 0) + 1
        checks = [not_a_server_error, content_type_conformance]
        if not positive:
            checks.append(negative_data_rejection)
        elif status < 400:
            checks.append(response_schema_conformance)
        case.validate_response(response, checks=checks)
        if positive:
            assert status in allowed, f"undeclared {status}: {response.text[:300]}"
        content_type = response.headers.get("content-type", [""])[0]
        if content_type.startswith("application/json"):
            answer = strict_json(response.content)
            if status >= 400:
                assert isinstance(answer, dict) and "detail" in answer, answer

    fuzz()
    return seen


@pytest.mark.parametrize("tag", sorted(CASES))
def test_fuzz(schema: schemathesis.BaseSchema, tag: str) -> None:
    failures = []
    for method, path, mode in CASES[tag]:
        label = f"{method} {path} ({mode.value})"
        try:
            seen = fuzz_operation(schema, method, path, mode)
        except Exception as exc:  # every operation is fuzzed; all failures are reported
            failures.append(f"{label}:\n{exc}")
            continue
        print(f"{label}: {dict(sorted(seen.items()))}")
    assert not failures, "\n\n".join(failures)


# ------------------------------------------------------------------------------------------
# what the fuzz found


@pytest.fixture(scope="module")
def client(schema: schemathesis.BaseSchema) -> Any:
    """A requests-like client on the same in-process app (its lifespan already started)."""
    from schemathesis.python.asgi import get_client

    with get_client(schema.app) as session:
        yield session


def test_run_routes_declare_the_400_and_404_they_answer(client: Any) -> None:
    undeclared = {}
    for path in [*RUN_PATHS, "/backtesting/tasks"]:
        name = client.post(path, json={"config": "../outside"})
        missing = client.post(path, json={"config": "no_such_config"})
        unknown = client.post(path, json={"config": {"controller_name": "pmm_simpel"}})
        assert (name.status_code, missing.status_code, unknown.status_code) == (400, 404, 404)
        undeclared[path] = {400, 404} - declared("POST", path)
    assert not any(undeclared.values()), undeclared


def test_422_answers_fit_the_declared_422_schema(
    client: Any, schema: schemathesis.BaseSchema
) -> None:
    response = client.get("/results", params={"since": "garbage"})
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)
    assert schema["/results"]["GET"].is_valid_response(response)


def test_a_malformed_basic_header_is_ignored_when_auth_is_off(client: Any) -> None:
    assert client.get("/backtesting/tasks").status_code == 200
    response = client.get("/backtesting/tasks", headers={"Authorization": "Basic %%%"})
    assert response.status_code == 200, response.text
