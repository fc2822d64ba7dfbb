"""The simulation: no I/O, only arrays in and executor records out."""

from hbbacktest.engine.backtest import EngineParams, RawRun, align_features, run_controller

__all__ = ["EngineParams", "RawRun", "align_features", "run_controller"]
