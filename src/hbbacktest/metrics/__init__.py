"""Pure functions from raw executor records to Hummingbot-format results."""

from hbbacktest.metrics.encode import executor_columns, executors_json, json_chunks, summary_dict
from hbbacktest.metrics.result import BacktestResult, build_result
from hbbacktest.metrics.summary import empty_summary, summarize_results
from hbbacktest.metrics.timeseries import pnl_timeseries

__all__ = [
    "BacktestResult",
    "build_result",
    "empty_summary",
    "executor_columns",
    "executors_json",
    "json_chunks",
    "pnl_timeseries",
    "summarize_results",
    "summary_dict",
]
