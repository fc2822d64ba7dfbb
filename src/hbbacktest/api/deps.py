"""What routes depend on, each declared once as a typed alias (FastAPI's template habit)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hbbacktest.api.observe import ApiMetrics
from hbbacktest.config.settings import Settings
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.service.downloads import CandleDownloads
from hbbacktest.service.sweeps import SweepJobs
from hbbacktest.service.tasks import TaskRunner
from hbbacktest.store import Store

__all__ = ["AppState", "MetricsDep", "RunnerDep", "SettingsDep", "StateDep", "StoreDep"]


@dataclass
class AppState:
    """Everything one app owns, built in its lifespan (never at import time)."""

    settings: Settings
    store: Store
    runner: TaskRunner
    registry: ControllerRegistry
    metrics: ApiMetrics
    downloads: CandleDownloads
    sweeps: SweepJobs
    # Controller registries import user files on first use: one validation at a time.
    registry_lock: threading.Lock


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.hb
    return state


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StateDep = Annotated[AppState, Depends(_state)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def _store(state: StateDep) -> Store:
    return state.store


def _runner(state: StateDep) -> TaskRunner:
    return state.runner


def _metrics(state: StateDep) -> ApiMetrics:
    return state.metrics


StoreDep = Annotated[Store, Depends(_store)]
RunnerDep = Annotated[TaskRunner, Depends(_runner)]
MetricsDep = Annotated[ApiMetrics, Depends(_metrics)]
