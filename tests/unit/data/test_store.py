"""The Parquet candle store: import, merge, load, resample on load, listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hbbacktest.core.errors import DataError, DataMissingError
from hbbacktest.data.store import CandleStore, StoredSeries

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC, a multiple of 5m


def minute_frame(n: int, start: int = T0, base: float = 100.0) -> pd.DataFrame:
    i = np.arange(n, dtype=float)
    open_ = base + i
    close = open_ + 0.5
    return pd.DataFrame(
        {
            "timestamp": start + 60 * np.arange(n, dtype=np.int64),
            "open": open_,
            "high": close + 1.0,
            "low": open_ - 1.0,
            "close": close,
            "volume": i + 1.0,
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> CandleStore:
    return CandleStore(tmp_path / "store")


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def test_path_layout(store: CandleStore) -> None:
    assert store.path("binance", "btc-usdt", "1m") == (
        store.data_dir / "candles" / "binance" / "BTC-USDT_1m.parquet"
    )


@pytest.mark.parametrize(
    "connector, pair", [("../x", "BTC-USDT"), ("binance", "BTC/USDT"), ("..", "A-B"), ("", "A-B")]
)
def test_unsafe_names_are_rejected(store: CandleStore, connector: str, pair: str) -> None:
    with pytest.raises(DataError, match=r"invalid (connector|trading pair)"):
        store.path(connector, pair, "1m")


def test_import_csv_and_load_window(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(10)
    rows = store.import_file(write_csv(tmp_path / "c.csv", frame), "binance", "BTC-USDT", "1m")
    assert rows == 10
    assert store.path("binance", "BTC-USDT", "1m").is_file()
    everything = store.load("binance", "BTC-USDT", "1m")
    assert everything.interval_s == 60
    pd.testing.assert_frame_equal(everything.to_frame(), frame)
    window = store.load("binance", "btc-usdt", "1m", T0 + 120, T0 + 300)
    assert window.ts.tolist() == [T0 + 120, T0 + 180, T0 + 240, T0 + 300]
    assert window.open.tolist() == [102.0, 103.0, 104.0, 105.0]
    assert store.load("binance", "BTC-USDT", "1m", start=T0 + 480).ts.tolist() == [
        T0 + 480,
        T0 + 540,
    ]
    assert store.load("binance", "BTC-USDT", "1m", end=T0 + 60).ts.tolist() == [T0, T0 + 60]


def test_import_csv_with_milliseconds_and_dates(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(3)
    ms = frame.assign(timestamp=frame["timestamp"] * 1000)
    store.import_file(write_csv(tmp_path / "ms.csv", ms), "binance", "BTC-USDT", "1m")
    dates = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], unit="s").astype(str))
    store.import_file(write_csv(tmp_path / "dates.csv", dates), "binance", "ETH-USDT", "1m")
    for pair in ("BTC-USDT", "ETH-USDT"):
        assert store.load("binance", pair, "1m").ts.tolist() == [T0, T0 + 60, T0 + 120]


def test_import_parquet(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(5)
    path = tmp_path / "c.parquet"
    frame.to_parquet(path, index=False)
    assert store.import_file(path, "okx", "SOL-USDT", "1m") == 5
    pd.testing.assert_frame_equal(store.load("okx", "SOL-USDT", "1m").to_frame(), frame)


def test_reimport_merges_and_replaces_overlapping_rows(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(5)), "binance", "BTC-USDT", "1m")
    later = minute_frame(5, start=T0 + 180, base=500.0)  # overlaps rows 3 and 4
    rows = store.import_file(write_csv(tmp_path / "b.csv", later), "binance", "BTC-USDT", "1m")
    assert rows == 8
    candles = store.load("binance", "BTC-USDT", "1m")
    assert candles.ts.tolist() == [T0 + 60 * i for i in range(8)]
    assert candles.open.tolist() == [100.0, 101.0, 102.0, 500.0, 501.0, 502.0, 503.0, 504.0]


def test_import_earlier_data_is_sorted_in(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(
        write_csv(tmp_path / "a.csv", minute_frame(3, start=T0 + 600)), "b", "A-B", "1m"
    )
    store.import_file(write_csv(tmp_path / "b.csv", minute_frame(3)), "b", "A-B", "1m")
    assert store.load("b", "A-B", "1m").ts.tolist() == [
        T0,
        T0 + 60,
        T0 + 120,
        T0 + 600,
        T0 + 660,
        T0 + 720,
    ]


def test_load_5m_resampled_from_stored_1m(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(write_csv(tmp_path / "c.csv", minute_frame(12)), "binance", "BTC-USDT", "1m")
    five = store.load("binance", "BTC-USDT", "5m")
    assert five.interval_s == 300
    assert five.ts.tolist() == [T0, T0 + 300, T0 + 600]
    assert five.open.tolist() == [100.0, 105.0, 110.0]
    assert five.close.tolist() == [104.5, 109.5, 111.5]
    assert five.high.tolist() == [105.5, 110.5, 112.5]
    assert five.low.tolist() == [99.0, 104.0, 109.0]
    assert five.volume.tolist() == [15.0, 40.0, 23.0]


def test_load_resampled_window_uses_whole_buckets(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(write_csv(tmp_path / "c.csv", minute_frame(12)), "binance", "BTC-USDT", "1m")
    window = store.load("binance", "BTC-USDT", "5m", T0 + 120, T0 + 300)
    # the bucket at T0 opens before the start; the T0+300 bucket is complete (5 candles)
    assert window.ts.tolist() == [T0 + 300]
    assert window.volume.tolist() == [40.0]
    assert store.load("binance", "BTC-USDT", "5m", T0, T0 + 299).close.tolist() == [104.5]


def test_missing_series_message_has_the_import_command(store: CandleStore) -> None:
    with pytest.raises(DataMissingError) as info:
        store.load("binance", "btc-usdt", "1h")
    message = str(info.value)
    assert "no 1h candles for binance BTC-USDT" in message
    assert "nothing is stored" in message
    assert (
        "hbbacktest data import FILE --connector binance --pair BTC-USDT --interval 1h" in message
    )


def test_missing_series_lists_stored_intervals(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(10)
    store.import_file(write_csv(tmp_path / "c.csv", frame.iloc[::5]), "binance", "BTC-USDT", "5m")
    # 3m is not a multiple of 5m: it cannot be built from what is stored
    with pytest.raises(DataMissingError, match=r"stored intervals: 5m\)"):
        store.load("binance", "BTC-USDT", "3m")


def test_intervals_finest_first(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(60)
    for interval, step in (("1h", 60), ("5m", 5), ("1m", 1)):
        store.import_file(
            write_csv(tmp_path / f"{interval}.csv", frame.iloc[::step]), "x", "A-B", interval
        )
    assert store.intervals("x", "A-B") == ["1m", "5m", "1h"]
    assert store.intervals("x", "C-D") == []


def test_misaligned_timestamps_are_rejected(store: CandleStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", minute_frame(10))
    with pytest.raises(DataError) as info:
        store.import_file(path, "binance", "BTC-USDT", "5m")
    message = str(info.value)
    assert "8 timestamps are not multiples of 5m" in message
    assert "2024-01-01 00:01:00" in message
    assert not store.path("binance", "BTC-USDT", "5m").exists()


def test_invalid_file_is_rejected_and_nothing_written(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(3)
    frame.loc[1, "high"] = 0.5
    with pytest.raises(DataError, match=r"c\.csv: high < max\(open, close\) at row 1"):
        store.import_file(write_csv(tmp_path / "c.csv", frame), "binance", "BTC-USDT", "1m")
    assert store.series() == []


def test_unreadable_and_missing_files(store: CandleStore, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        store.import_file(tmp_path / "nope.csv", "b", "A-B", "1m")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"cannot read it as \.csv"):
        store.import_file(empty, "b", "A-B", "1m")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"cannot read it as \.parquet"):
        store.import_file(broken, "b", "A-B", "1m")


def test_series(store: CandleStore, tmp_path: Path) -> None:
    assert store.series() == []
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(4)), "binance", "BTC-USDT", "1m")
    store.import_file(
        write_csv(tmp_path / "b.csv", minute_frame(10).iloc[::5]), "okx", "ETH-USDT", "5m"
    )
    assert store.series() == [
        StoredSeries("binance", "BTC-USDT", "1m", T0, T0 + 180, 4),
        StoredSeries("okx", "ETH-USDT", "5m", T0, T0 + 300, 2),
    ]


def test_write_is_atomic_and_leaves_no_temporary_files(store: CandleStore) -> None:
    assert store.write("b", "A-B", "1m", minute_frame(3)) == 3
    folder = store.path("b", "A-B", "1m").parent
    assert [p.name for p in folder.iterdir()] == ["A-B_1m.parquet"]


def test_corrupt_stored_file(store: CandleStore) -> None:
    target = store.path("b", "A-B", "1m")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot read the stored candles"):
        store.load("b", "A-B", "1m")


def test_stored_file_without_columns(store: CandleStore) -> None:
    target = store.path("b", "A-B", "1m")
    target.parent.mkdir(parents=True)
    pd.DataFrame({"timestamp": [T0], "open": [1.0]}).to_parquet(target)
    with pytest.raises(DataError, match="lacks column"):
        store.load("b", "A-B", "1m")
