"""Controllers and saved configs, on hummingbot-api's paths (what hummingbot-api-client calls).

Plus ``GET /controllers/{type}/{name}/config/schema``: the config's JSON schema, from which a
form can be generated. Registry calls import user controller files on first use, so they run
in a thread, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Body
from starlette.concurrency import run_in_threadpool

from hbbacktest.api.deps import StateDep
from hbbacktest.api.errors import problem
from hbbacktest.service import configs
from hbbacktest.service.hbapi import EXAMPLE_CONFIG

router = APIRouter(prefix="/controllers", tags=["controllers"])
T = TypeVar("T")

_CONFIG_EXAMPLE = EXAMPLE_CONFIG
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: problem("Unknown controller (the answer lists the available ones).")
}
_BAD_NAME: dict[int | str, dict[str, Any]] = {
    400: problem("A config name that leaves the configs directory."),
    404: problem("No such saved config (the answer names the closest)."),
}


async def _locked(state: StateDep, fn: Callable[[], T]) -> T:
    def call() -> T:
        with state.registry_lock:
            return fn()

    return await run_in_threadpool(call)


@router.get(
    "/",
    responses={
        200: {"content": {"application/json": {"example": {"market_making": ["pmm_simple"]}}}}
    },
)
async def list_controllers(state: StateDep) -> dict[str, list[str]]:
    """Controller type → controller names (built-in and user controllers)."""
    return await _locked(state, lambda: configs.controller_catalogue(state.registry))


@router.get(
    "/configs/",
    responses={
        200: {"content": {"application/json": {"example": [{"id": "my_pmm", **_CONFIG_EXAMPLE}]}}}
    },
)
async def list_controller_configs(state: StateDep) -> list[dict[str, Any]]:
    """The saved configs (a file that cannot be read is listed with its ``error``)."""
    return await run_in_threadpool(configs.list_configs, state.settings.configs_path)


@router.get(
    "/configs/{config_name:path}",
    responses={
        200: {"content": {"application/json": {"example": {"id": "my_pmm", **_CONFIG_EXAMPLE}}}},
        **_BAD_NAME,
    },
)
async def get_controller_config(config_name: str, state: StateDep) -> dict[str, Any]:
    """One saved config."""
    return await run_in_threadpool(
        lambda: configs.read_config(state.settings.configs_path, config_name, with_id=True)
    )


@router.post(
    "/configs/{config_name:path}",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"message": "Configuration 'my_pmm' saved successfully"}
                }
            }
        },
        400: _BAD_NAME[400],
        422: problem("The config is invalid (every bad field named)."),
    },
)
async def save_controller_config(
    config_name: str,
    state: StateDep,
    config: dict[str, Any] = Body(openapi_examples={"pmm": {"value": _CONFIG_EXAMPLE}}),  # noqa: B008
) -> dict[str, Any]:
    """Validate a config and save it (atomically) as ``<configs dir>/<config_name>.yml``."""
    return await _locked(
        state,
        lambda: configs.save_config(
            state.settings.configs_path, config_name, config, registry=state.registry
        ),
    )


@router.delete(
    "/configs/{config_name:path}",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"message": "Configuration 'my_pmm' deleted successfully"}
                }
            }
        },
        **_BAD_NAME,
    },
)
async def delete_controller_config(config_name: str, state: StateDep) -> dict[str, str]:
    """Delete a saved config."""
    await run_in_threadpool(configs.delete_config, state.settings.configs_path, config_name)
    return {"message": f"Configuration '{config_name}' deleted successfully"}


@router.get(
    "/{controller_type}/{controller_name}",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"name": "pmm_simple", "type": "market_making", "content": "..."}
                }
            }
        },
        **_NOT_FOUND,
    },
)
async def get_controller(
    controller_type: str, controller_name: str, state: StateDep
) -> dict[str, str]:
    """A controller's Python source."""
    content = await _locked(
        state, lambda: configs.controller_source(state.registry, controller_type, controller_name)
    )
    return {"name": controller_name, "type": controller_type, "content": content}


@router.get(
    "/{controller_type}/{controller_name}/config/template",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "take_profit": {"default": 0.02, "type": "float | None", "required": False}
                    }
                }
            }
        },
        **_NOT_FOUND,
    },
)
async def get_controller_config_template(
    controller_type: str, controller_name: str, state: StateDep
) -> dict[str, Any]:
    """Each config field with its default, type and whether it is required."""
    return await _locked(
        state, lambda: configs.config_template(state.registry, controller_type, controller_name)
    )


@router.get(
    "/{controller_type}/{controller_name}/config/schema",
    responses={
        200: {"content": {"application/json": {"example": {"type": "object", "properties": {}}}}},
        **_NOT_FOUND,
    },
)
async def get_controller_config_schema(
    controller_type: str, controller_name: str, state: StateDep
) -> dict[str, Any]:
    """The config's JSON schema (what a form for it needs)."""
    return await _locked(
        state, lambda: configs.config_schema(state.registry, controller_type, controller_name)
    )


@router.post(
    "/{controller_type}/{controller_name}/config/validate",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"message": "Configuration is valid", "warnings": []}
                }
            }
        },
        422: problem("The config is invalid (every bad field named)."),
        **_NOT_FOUND,
    },
)
async def validate_controller_config(
    controller_type: str,
    controller_name: str,
    state: StateDep,
    config: dict[str, Any] = Body(openapi_examples={"pmm": {"value": _CONFIG_EXAMPLE}}),  # noqa: B008
) -> dict[str, Any]:
    """Check a config against the controller's config class, without saving it."""
    return await _locked(
        state,
        lambda: configs.validate_config(state.registry, controller_type, controller_name, config),
    )
