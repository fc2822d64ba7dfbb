from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.controllers import ControllerRegistry


@pytest.fixture
def controller() -> Any:
    def make(name: str, **fields: Any) -> Any:
        registry = ControllerRegistry()
        return registry.create(registry.load_config({"controller_name": name, **fields}))

    return make
