"""Controllers and saved configs on hummingbot-api's paths.

The session app's configs dir is shared: every test saves under names of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from fastapi.testclient import TestClient

from hbbacktest.config.settings import Settings
from hbbacktest.service.defaults import DEFAULT_CONFIG
from tests.api.conftest import GATED_CONTROLLER, T0, body, wait_task

BUILTINS = {
    "directional_trading": ["bollinger_v1", "dman_v3", "macd_bb_v1", "supertrend_v1"],
    "market_making": ["dman_maker_v2", "pmm_dynamic", "pmm_dynamic_2", "pmm_simple", "pmm_skew"],
    "generic": ["grid_strike"],
}
ALL = [(kind, name) for kind, names in BUILTINS.items() for name in names] + [
    ("market_making", "pmm_gated")
]


def test_the_catalogue_lists_builtins_and_user_controllers(client: TestClient) -> None:
    catalogue = client.get("/controllers/").json()
    expected = {kind: list(names) for kind, names in BUILTINS.items()}
    expected["market_making"] = sorted([*expected["market_making"], "pmm_gated"])
    assert catalogue == expected


def test_a_controllers_source(client: TestClient, controllers_dir: Path) -> None:
    builtin = client.get("/controllers/market_making/pmm_simple")
    assert builtin.status_code == 200
    assert builtin.json()["name"] == "pmm_simple" and builtin.json()["type"] == "market_making"
    assert "class PMMSimpleConfig" in builtin.json()["content"]
    # "x.py" is read as "x", as upstream does.
    suffixed = client.get("/controllers/market_making/pmm_simple.py").json()
    assert suffixed["content"] == builtin.json()["content"]
    user = client.get("/controllers/market_making/pmm_gated").json()
    assert user["content"] == GATED_CONTROLLER
    assert user["content"] == (controllers_dir / "market_making" / "pmm_gated.py").read_text()


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/controllers/market_making/pmm_simpel", ["did you mean 'pmm_simple'"]),
        (
            "/controllers/generic/pmm_simple",
            ["market_making controller", "market_making/pmm_simple"],
        ),
        ("/controllers/generic/pmm_simple/config/template", ["market_making/pmm_simple"]),
        ("/controllers/directional_trading/nope/config/schema", ["no controller 'nope'"]),
    ],
)
def test_unknown_controllers_are_not_found(client: TestClient, path: str, words: list[str]) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json()["error"] == "ControllerNotFoundError"
    for word in words:
        assert word in answer.json()["detail"]


@pytest.mark.parametrize(("kind", "name"), ALL, ids=[name for _, name in ALL])
def test_template_defaults_validate(client: TestClient, kind: str, name: str) -> None:
    template = client.get(f"/controllers/{kind}/{name}/config/template")
    assert template.status_code == 200
    fields = template.json()
    assert fields["controller_name"]["default"] == name
    assert fields["controller_type"]["default"] == kind
    for field, entry in fields.items():
        assert {"default", "type", "required"} <= entry.keys(), field
        assert isinstance(entry["type"], str) and entry["type"], field
    defaults = {field: entry["default"] for field, entry in fields.items() if not entry["required"]}
    checked = client.post(f"/controllers/{kind}/{name}/config/validate", json=defaults)
    assert checked.status_code == 200, checked.text
    assert checked.json() == {"message": "Configuration is valid", "warnings": []}


@pytest.mark.parametrize(("kind", "name"), ALL, ids=[name for _, name in ALL])
def test_the_schema_describes_the_template_fields(client: TestClient, kind: str, name: str) -> None:
    schema = client.get(f"/controllers/{kind}/{name}/config/schema").json()
    template = client.get(f"/controllers/{kind}/{name}/config/template").json()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(template)


def test_the_template_shows_upstream_types_and_enum_names(client: TestClient) -> None:
    fields = client.get("/controllers/market_making/pmm_simple/config/template").json()
    assert fields["buy_spreads"]["type"] == "list[float]"
    assert fields["buy_spreads"]["required"] is False
    assert {k: v for k, v in fields["take_profit"].items() if k != "description"} == {
        "default": 0.02,
        "type": "float | None",
        "required": False,
    }
    assert fields["position_mode"]["default"] == "HEDGE"
    assert fields["position_mode"]["type"] == "PositionMode"
    assert fields["take_profit_order_type"]["default"] == "LIMIT"
    gated_fields = client.get("/controllers/market_making/pmm_gated/config/template").json()
    assert gated_fields["gate"] == {
        "default": "",
        "type": "str",
        "required": False,
        "description": "Wait while this file exists (at most 60 s).",
    }


def test_validate_names_every_bad_field(client: TestClient) -> None:
    answer = client.post(
        "/controllers/market_making/pmm_simple/config/validate",
        json={"connector_name": "demo", "buy_spreads": "0.01,x", "take_profit": "much"},
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert "buy_spreads" in detail and "take_profit" in detail


def test_validate_warns_about_ignored_keys(client: TestClient) -> None:
    answer = client.post(
        "/controllers/market_making/pmm_simple/config/validate",
        json={**DEFAULT_CONFIG, "not_a_field": 1},
    )
    assert answer.status_code == 200
    assert any("not_a_field" in warning for warning in answer.json()["warnings"])


def test_validate_refuses_another_controllers_config(client: TestClient) -> None:
    answer = client.post("/controllers/generic/grid_strike/config/validate", json=DEFAULT_CONFIG)
    assert answer.status_code == 422
    assert "grid_strike" in answer.json()["detail"] and "pmm_simple" in answer.json()["detail"]


def test_a_saved_config_round_trip_and_run_by_name(
    client: TestClient, client_settings: Settings
) -> None:
    name = "round_trip_pmm"
    saved = client.post(f"/controllers/configs/{name}", json=DEFAULT_CONFIG)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "message": f"Configuration '{name}' saved successfully",
        "config_name": name,
        "warnings": [],
    }
    on_disk = client_settings.configs_path / f"{name}.yml"
    assert yaml.safe_load(on_disk.read_text()) == DEFAULT_CONFIG  # as given, not normalised

    read = client.get(f"/controllers/configs/{name}").json()
    assert read == {**DEFAULT_CONFIG, "id": name}
    assert client.get(f"/controllers/configs/{name}.yml").json() == read
    listed = {entry["config_name"]: entry for entry in client.get("/controllers/configs/").json()}
    assert {
        k: v for k, v in listed[name].items() if k not in ("config_name", "modified_at")
    } == read
    assert isinstance(listed[name]["modified_at"], int)

    by_name = client.post("/backtesting/run", json=body(name, end=T0 + 3 * 3600))
    inline = client.post("/backtesting/run", json=body(end=T0 + 3 * 3600))
    assert by_name.status_code == 200, by_name.text
    assert by_name.content == inline.content
    task_id = client.post("/backtesting/tasks", json=body(name, end=T0 + 3 * 3600)).json()[
        "task_id"
    ]
    task = wait_task(client, task_id)
    assert task["config"]["config"] == name  # stored as posted
    assert task["result"] == inline.json()
    client.delete(f"/backtesting/tasks/{task_id}")

    deleted = client.delete(f"/controllers/configs/{name}")
    assert deleted.json() == {"message": f"Configuration '{name}' deleted successfully"}
    assert not on_disk.exists()
    assert client.get(f"/controllers/configs/{name}").status_code == 404
    assert client.delete(f"/controllers/configs/{name}").status_code == 404
    gone = client.post("/backtesting/run", json=body(name))
    assert gone.status_code == 404
    assert gone.json()["error"] == "ConfigNotFoundError"


def test_saving_replaces_and_folders_work(client: TestClient) -> None:
    name = "btc/replaced_pmm"
    first = {**DEFAULT_CONFIG, "take_profit": 0.01}
    second = {**DEFAULT_CONFIG, "take_profit": 0.05}
    assert client.post(f"/controllers/configs/{name}", json=first).status_code == 200
    assert client.post(f"/controllers/configs/{name}", json=second).status_code == 200
    assert client.get(f"/controllers/configs/{name}").json() == {**second, "id": name}
    names = [entry["id"] for entry in client.get("/controllers/configs/").json()]
    assert name in names
    assert client.delete(f"/controllers/configs/{name}").status_code == 200


def test_an_invalid_config_is_not_saved(client: TestClient) -> None:
    name = "invalid_pmm"
    answer = client.post(f"/controllers/configs/{name}", json={**DEFAULT_CONFIG, "leverage": "x"})
    assert answer.status_code == 422
    assert "leverage" in answer.json()["detail"]
    assert client.get(f"/controllers/configs/{name}").status_code == 404
    unknown = client.post(
        f"/controllers/configs/{name}", json={**DEFAULT_CONFIG, "controller_name": "nope"}
    )
    assert unknown.status_code == 422
    assert "unknown controller_name 'nope'" in unknown.json()["detail"]
    assert client.get(f"/controllers/configs/{name}").status_code == 404


def test_an_unknown_saved_config_suggests_the_closest(client: TestClient) -> None:
    assert client.post("/controllers/configs/suggest_me", json=DEFAULT_CONFIG).status_code == 200
    answer = client.get("/controllers/configs/sugest_me")
    assert answer.status_code == 404
    assert "did you mean 'suggest_me'" in answer.json()["detail"]
    client.delete("/controllers/configs/suggest_me")


@pytest.mark.parametrize(
    "name",
    [".hidden", "a/.hidden", "x\\y", "a//b", "%00nul"],
    ids=["hidden", "hidden_part", "backslash", "empty_part", "nul"],
)
def test_names_leaving_the_configs_dir_are_refused(
    client: TestClient, client_settings: Settings, name: str
) -> None:
    for method in ("get", "delete"):
        answer = getattr(client, method)(f"/controllers/configs/{name}")
        assert answer.status_code == 400, (method, answer.text)
        assert answer.json()["error"] == "ConfigNameError"
    saved = client.post(f"/controllers/configs/{name}", json=DEFAULT_CONFIG)
    assert saved.status_code == 400
    run = client.post("/backtesting/run", json=body(unquote(name)))
    assert run.status_code == 400


def test_a_body_naming_a_config_outside_the_dir_is_refused(
    client: TestClient, client_settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(yaml.safe_dump(DEFAULT_CONFIG))
    for name in ("../outside", str(outside), "/etc/passwd"):
        answer = client.post("/backtesting/run", json=body(name))
        assert answer.status_code == 400, name
        assert answer.json()["error"] == "ConfigNameError"


def test_an_unreadable_saved_config_is_listed_with_its_error(
    client: TestClient, client_settings: Settings
) -> None:
    broken = client_settings.configs_path / "broken_yaml.yml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("controller_name: [unclosed\n")
    try:
        listed = {e["config_name"]: e for e in client.get("/controllers/configs/").json()}
        entry: dict[str, Any] = listed["broken_yaml"]
        assert entry["controller_name"] == "error" and entry["error"]
        answer = client.post("/backtesting/run", json=body("broken_yaml"))
        assert answer.status_code == 422
        assert "broken_yaml" in answer.json()["detail"]
    finally:
        broken.unlink()
