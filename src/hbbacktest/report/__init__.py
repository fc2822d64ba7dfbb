"""Visual reports: one self-contained HTML file per backtest, comparison or sweep (Plotly).

Plotly lives here and nowhere else. Reports take plain data (a result document as
``hbbacktest run`` writes it, candle columns, sweep rows) and return HTML; loading results and
candles is the service's job.
"""
