"""Visual reports: one self-contained HTML file per backtest, comparison or sweep (Plotly).

Plotly lives here and nowhere else. Reports take plain data (a result document as
``hbbacktest run`` writes it, candle columns, sweep rows) and return HTML; loading results and
candles is the service's job.

* :func:`run_report` — one run: candlesticks with every executor, PnL, drawdown, inventory,
  metrics, warnings and a sortable executors table; :func:`main_figure` is its main chart.
* :func:`compare_report` — several runs: equity curves overlaid, metrics side by side;
  :func:`equity_figure` is its chart.
* :func:`write_png` — a figure as PNG (kaleido and a local Chromium).

Names load on first use, so importing this package does not import plotly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbbacktest.report.png import write_png
    from hbbacktest.report.run import compare_report, equity_figure, main_figure, run_report

_HOMES = {
    "compare_report": "run",
    "equity_figure": "run",
    "main_figure": "run",
    "run_report": "run",
    "write_png": "png",
}

__all__ = ["compare_report", "equity_figure", "main_figure", "run_report", "write_png"]


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(f"hbbacktest.report.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'hbbacktest.report' has no attribute {name!r}")
