"""The Ray backend on a local Ray instance: the same stored results as the local backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.service.controllers import build_registry
from hbbacktest.store import Store
from hbbacktest.sweep import runner
from hbbacktest.sweep.runner import run_sweep
from hbbacktest.sweep.spec import SweepSpec, expand

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e .[ray])")

SPEC = {
    "name": "on_ray",
    "base": {
        "controller_name": "pmm_dynamic",
        "connector_name": "demo",
        "trading_pair": "BTC-USDT",
        "sell_spreads": "1,2",
    },
    "grid": {"buy_spreads": ["1,2", "2,4"], "take_profit": [0.01, 0.02, 0.04]},
    "start": "2024-01-08",
    "end": "2024-01-09",
}


def _stored(store: Store) -> dict[str, dict[str, object]]:
    return {row.key: row.metrics for row in store.results("on_ray", sort="net_pnl_quote")}


def test_ray_stores_what_the_local_backend_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Items this short would stay in-process; make the rest go to Ray.
    monkeypatch.setattr(runner, "_POOL_WORTH_S", 0.0)
    settings = Settings(data_dir=tmp_path / "data", offline=True)
    spec = SweepSpec.model_validate(SPEC)
    items = expand(spec, registry=build_registry(settings)).items
    local = Store(f"sqlite:///{tmp_path / 'local.db'}")
    on_ray = Store(f"sqlite:///{tmp_path / 'ray.db'}")
    data = spec.model_dump(mode="json")
    first = run_sweep("on_ray", items, spec=data, store=local, settings=settings, workers=1)
    second = run_sweep(
        "on_ray", items, spec=data, store=on_ray, settings=settings, workers=2, backend="ray"
    )
    assert (first.done, second.done, second.failed) == (6, 6, 0)
    assert second.workers == 2
    assert _stored(on_ray) == _stored(local)
    assert not ray.is_initialized()  # the local Ray it started is shut down


def test_an_unknown_backend_is_a_config_error(tmp_path: Path) -> None:
    from hbbacktest.core.errors import ConfigError

    settings = Settings(data_dir=tmp_path, offline=True)
    items = expand(SweepSpec.model_validate(SPEC), registry=build_registry(settings)).items
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(ConfigError, match="backend 'dask'"):
        run_sweep("on_ray", items, spec={}, store=store, settings=settings, backend="dask")
