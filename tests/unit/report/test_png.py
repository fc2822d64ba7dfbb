"""PNG export: kaleido with a local Chromium, written atomically; a clear error without one."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from hbbacktest.core.errors import OutputError
from hbbacktest.report.png import find_browser, write_png
from hbbacktest.report.run import equity_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DOC = {
    "request": {"config": {"id": "a", "trading_pair": "BTC-USDT"}, "fill_model": "touch"},
    "results": {},
    "pnl_timeseries": {"timestamp": [1704672000, 1704672060, 1704672120],
                       "total_pnl": [0.0, 1.0, -0.5]},
}  # fmt: skip


@pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium found (apt-get install chromium, or set $BROWSER_PATH): "
    "kaleido needs one to render PNG",
)
def test_a_figure_becomes_a_png_of_the_asked_size(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "chart.png"
    written = write_png(equity_figure([DOC]), target, width=640, height=360)
    data = written.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert struct.unpack(">II", data[16:24]) == (640, 360)
    assert [p.name for p in target.parent.iterdir()] == ["chart.png"]  # no temporary left


def test_without_a_browser_the_error_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    with pytest.raises(OutputError, match="apt-get install chromium") as caught:
        write_png(equity_figure([DOC]), tmp_path / "chart.png")
    assert "BROWSER_PATH" in str(caught.value)
    assert not (tmp_path / "chart.png").exists()


def test_nothing_on_path_is_no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_browser() is None
