"""The Parquet candle store: import, merge, load, resample on load, listing, safety."""

from __future__ import annotations

import errno
import fcntl
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hbbacktest.core.errors import ConfigError, DataError, DataMissingError, OutputError
from hbbacktest.data.candles import Candles
from hbbacktest.data.store import (
    NAME_MAX,
    CandleStore,
    Gap,
    ImportReport,
    StoredSeries,
    canonical_interval,
)

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC, a multiple of 5m


def minute_frame(n: int, start: int = T0, base: float = 100.0, step: int = 60) -> pd.DataFrame:
    i = np.arange(n, dtype=float)
    open_ = base + i
    close = open_ + 0.5
    return pd.DataFrame(
        {
            "timestamp": start + step * np.arange(n, dtype=np.int64),
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


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


# --- names ------------------------------------------------------------------------------------


def test_path_layout(store: CandleStore) -> None:
    assert store.path("binance", "btc-usdt", "1m") == (
        store.data_dir / "candles" / "binance" / "BTC-USDT_1m.parquet"
    )


@pytest.mark.parametrize(
    "connector, pair",
    [
        ("../x", "BTC-USDT"),
        ("binance", "BTC/USDT"),
        ("..", "A-B"),
        ("", "A-B"),
        (".hidden", "A-B"),
        ("binance", "A-B\x00"),
        ("binance", "X" * 10_000),
        ("b" * (NAME_MAX + 1), "A-B"),
    ],
)
def test_unsafe_names_are_rejected(store: CandleStore, connector: str, pair: str) -> None:
    with pytest.raises(ConfigError, match=r"invalid (connector|trading pair)") as info:
        store.path(connector, pair, "1m")
    assert len(str(info.value)) < 200  # a 10,000-character name is not echoed in full


def test_a_10000_character_pair_is_a_clear_error_not_oserror(
    store: CandleStore, tmp_path: Path
) -> None:
    csv = write_csv(tmp_path / "c.csv", minute_frame(3))
    with pytest.raises(ConfigError) as info:
        store.import_file(csv, "binance", "A" * 5_000 + "-" + "B" * 4_999, "1m")
    assert f"at most {NAME_MAX} characters" in str(info.value)
    assert "(10000 characters)" in str(info.value)


@pytest.mark.parametrize(
    "pair, advice",
    [
        ("BTCUSDT", "use 'BTC-USDT'"),
        ("ethbtc", "use 'ETH-BTC'"),
        ("BTC_USDT", "use 'BTC-USDT'"),
        ("BTC/USDT", "use 'BTC-USDT'"),
        ("SOL:USDC", "use 'SOL-USDC'"),
        ("FOO", "e.g. 'BTC-USDT'"),
        ("A-B-C", "e.g. 'BTC-USDT'"),
        ("-USDT", "e.g. 'BTC-USDT'"),
    ],
)
def test_import_wants_base_dash_quote(
    store: CandleStore, tmp_path: Path, pair: str, advice: str
) -> None:
    csv = write_csv(tmp_path / "c.csv", minute_frame(3))
    with pytest.raises(ConfigError) as info:
        store.import_file(csv, "binance", pair, "1m")
    message = str(info.value)
    assert f"invalid trading pair {pair!r}" in message
    assert "BASE-QUOTE" in message
    assert advice in message
    assert not (store.data_dir / "candles").exists()


def test_invalid_interval_is_a_config_error(store: CandleStore, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "c.csv", minute_frame(3))
    with pytest.raises(ConfigError, match="invalid interval '1x'"):
        store.import_file(csv, "binance", "BTC-USDT", "1x")


# --- import and load --------------------------------------------------------------------------


def test_import_csv_and_load_window(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(10)
    report = store.import_file(write_csv(tmp_path / "c.csv", frame), "binance", "BTC-USDT", "1m")
    target = store.path("binance", "BTC-USDT", "1m")
    assert report == ImportReport(
        path=target.absolute(),
        rows_read=10,
        rows_added=10,
        rows_replaced=0,
        rows_total=10,
        first_ts=T0,
        last_ts=T0 + 540,
        gaps=0,
        missing_candles=0,
        largest_gap=None,
        replaced=False,
        trading_pair="BTC-USDT",
        interval="1m",
        format="csv",
    )
    assert report.path.is_absolute() and target.is_file()
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


def test_relative_data_dir_reports_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = CandleStore("rel")
    report = store.import_file(write_csv(tmp_path / "c.csv", minute_frame(3)), "b", "A-B", "1m")
    assert report.path == tmp_path / "rel" / "candles" / "b" / "A-B_1m.parquet"
    with pytest.raises(DataMissingError, match=f"in {tmp_path / 'rel'} "):
        store.load("b", "C-D", "1m")


@pytest.mark.parametrize(
    "factor", [1, 1_000, 1_000_000, 1_000_000_000], ids=["s", "ms", "us", "ns"]
)
def test_import_epoch_units_and_list(store: CandleStore, tmp_path: Path, factor: int) -> None:
    # epoch µs once merged into the store, then crashed `data list` for good (format_time)
    frame = minute_frame(3)
    scaled = frame.assign(timestamp=frame["timestamp"] * factor)
    store.import_file(write_csv(tmp_path / "t.csv", scaled), "binance", "BTC-USDT", "1m")
    assert store.load("binance", "BTC-USDT", "1m").ts.tolist() == [T0, T0 + 60, T0 + 120]
    (entry,) = store.series()
    assert (entry.first_ts, entry.last_ts, entry.rows, entry.problem) == (T0, T0 + 120, 3, None)


def test_import_dates(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(3)
    dates = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], unit="s").astype(str))
    store.import_file(write_csv(tmp_path / "dates.csv", dates), "binance", "ETH-USDT", "1m")
    assert store.load("binance", "ETH-USDT", "1m").ts.tolist() == [T0, T0 + 60, T0 + 120]


def test_import_parquet_with_datetime_column(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(5)
    path = tmp_path / "c.parquet"
    frame.assign(timestamp=pd.to_datetime(frame["timestamp"], unit="s", utc=True)).to_parquet(
        path, index=False
    )
    assert store.import_file(path, "okx", "SOL-USDT", "1m").rows_total == 5
    pd.testing.assert_frame_equal(store.load("okx", "SOL-USDT", "1m").to_frame(), frame)


def test_reimport_merges_and_replaces_overlapping_rows(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(5)), "binance", "BTC-USDT", "1m")
    later = minute_frame(5, start=T0 + 180, base=500.0)  # overlaps rows 3 and 4
    report = store.import_file(write_csv(tmp_path / "b.csv", later), "binance", "BTC-USDT", "1m")
    assert (report.rows_read, report.rows_added, report.rows_replaced, report.rows_total) == (
        5,
        3,
        2,
        8,
    )
    candles = store.load("binance", "BTC-USDT", "1m")
    assert candles.ts.tolist() == [T0 + 60 * i for i in range(8)]
    assert candles.open.tolist() == [100.0, 101.0, 102.0, 500.0, 501.0, 502.0, 503.0, 504.0]


def test_import_earlier_data_is_sorted_in(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(
        write_csv(tmp_path / "a.csv", minute_frame(3, start=T0 + 600)), "b", "A-B", "1m"
    )
    report = store.import_file(write_csv(tmp_path / "b.csv", minute_frame(3)), "b", "A-B", "1m")
    assert store.load("b", "A-B", "1m").ts.tolist() == [
        T0,
        T0 + 60,
        T0 + 120,
        T0 + 600,
        T0 + 660,
        T0 + 720,
    ]
    # 00:02 → 00:10: one gap of 7 missing candles, reported on what the store now holds
    assert (report.gaps, report.missing_candles) == (1, 7)
    assert report.largest_gap == Gap(after_ts=T0 + 120, missing=7, interval_s=60)
    assert report.largest_gap.from_ts == T0 + 180
    assert report.largest_gap.to_ts == T0 + 540


def test_gaps_are_reported(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(30).drop(index=[3, 10, 11, 12, 20, 21])
    report = store.import_file(write_csv(tmp_path / "g.csv", frame), "b", "A-B", "1m")
    assert (report.gaps, report.missing_candles, report.rows_total) == (3, 6, 24)
    assert report.largest_gap == Gap(after_ts=T0 + 9 * 60, missing=3, interval_s=60)


def test_replace_discards_what_was_stored(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(10)), "b", "A-B", "1m")
    later = minute_frame(3, start=T0 + 3600, base=7.0)
    report = store.import_file(write_csv(tmp_path / "b.csv", later), "b", "A-B", "1m", replace=True)
    assert report.replaced
    assert (report.rows_added, report.rows_total) == (3, 3)
    assert store.load("b", "A-B", "1m").ts.tolist() == [T0 + 3600, T0 + 3660, T0 + 3720]
    # replace on a new dataset is just an import
    fresh = store.import_file(write_csv(tmp_path / "c.csv", later), "b", "C-D", "1m", replace=True)
    assert not fresh.replaced


def test_write_merges_and_can_replace(store: CandleStore) -> None:
    assert store.write("b", "A-B", "1m", minute_frame(3)) == 3
    assert store.write("b", "A-B", "1m", minute_frame(3, start=T0 + 120)) == 5
    assert store.write("b", "A-B", "1m", minute_frame(2), replace=True) == 2
    with pytest.raises(ConfigError, match="BASE-QUOTE"):
        store.write("b", "AB", "1m", minute_frame(2))


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
    assert str(store.data_dir.absolute()) in message
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
    frame = minute_frame(180)
    for interval, step in (("1h", 60), ("5m", 5), ("1m", 1)):
        store.import_file(
            write_csv(tmp_path / f"{interval}.csv", frame.iloc[::step]), "x", "A-B", interval
        )
    assert store.intervals("x", "A-B") == ["1m", "5m", "1h"]
    assert store.intervals("x", "C-D") == []


# --- the interval must match the candles ------------------------------------------------------


def test_misaligned_timestamps_are_rejected(store: CandleStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", minute_frame(10))
    with pytest.raises(DataError) as info:
        store.import_file(path, "binance", "BTC-USDT", "5m")
    message = str(info.value)
    assert "8 timestamps are not multiples of 5m" in message
    assert "2024-01-01 00:01:00" in message
    assert "the candles are 1m apart (most common spacing): use --interval 1m" in message
    assert not store.path("binance", "BTC-USDT", "5m").exists()


def test_5m_candles_imported_as_1m_are_rejected(store: CandleStore, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", minute_frame(12, step=300))
    with pytest.raises(DataError) as info:
        store.import_file(path, "binance", "BTC-USDT", "1m")
    assert str(info.value) == (
        f"{path}: --interval is 1m but the candles are 5m apart (most common spacing); "
        "use --interval 5m"
    )
    assert store.series() == []


def test_spacing_is_the_most_common_one(store: CandleStore, tmp_path: Path) -> None:
    # 1h candles with a gap: the gap does not decide the spacing
    frame = minute_frame(6, step=3600).drop(index=[2, 3])
    report = store.import_file(write_csv(tmp_path / "h.csv", frame), "b", "A-B", "1h")
    assert (report.gaps, report.missing_candles) == (1, 2)


def test_two_candles_with_a_gap_are_accepted(store: CandleStore, tmp_path: Path) -> None:
    # with two rows the only spacing is the gap: it says nothing about the interval
    frame = minute_frame(6).iloc[[0, 5]]
    report = store.import_file(write_csv(tmp_path / "two.csv", frame), "b", "A-B", "1m")
    assert (report.rows_total, report.missing_candles) == (2, 4)


# --- failed imports change nothing ------------------------------------------------------------


def test_invalid_file_is_rejected_and_nothing_written(store: CandleStore, tmp_path: Path) -> None:
    frame = minute_frame(3)
    frame.loc[1, "high"] = 0.5
    with pytest.raises(DataError, match=r"c\.csv: high < max\(open, close\) at row 1"):
        store.import_file(write_csv(tmp_path / "c.csv", frame), "binance", "BTC-USDT", "1m")
    assert store.series() == []
    assert not (store.data_dir / "candles").exists()


def _bad_inputs() -> dict[str, Callable[[Path], Path]]:
    def csv(name: str, frame: pd.DataFrame) -> Callable[[Path], Path]:
        return lambda tmp: write_csv(tmp / name, frame)

    good = minute_frame(20, start=T0 + 600)
    nan = good.copy()
    nan.loc[5, "close"] = np.nan
    mixed = good.copy()
    mixed["timestamp"] = mixed["timestamp"] * 1_000_000
    mixed.loc[3, "timestamp"] = int(good["timestamp"][3])
    unsorted = good.iloc[[0, 2, 1, 3]]

    def text(name: str, body: str) -> Callable[[Path], Path]:
        def make(tmp: Path) -> Path:
            (tmp / name).write_text(body)
            return tmp / name

        return make

    return {
        "nan": csv("nan.csv", nan),
        "mixed-units": csv("mixed.csv", mixed),
        "unsorted": csv("unsorted.csv", unsorted),
        "5m-as-1m": csv("five.csv", minute_frame(12, step=300, start=T0 + 600)),
        "negative-time": csv("neg.csv", good.assign(timestamp=-good["timestamp"])),
        "header-only": text("header.csv", "timestamp,open,high,low,close\n"),
        "binary": text("binary.csv", "\x00\x01\x02garbage"),
        "no-time-column": csv("notime.csv", good.drop(columns="timestamp")),
        "duplicate-columns": text(
            "dupcols.csv", "timestamp,open,Open,high,low,close\n1704067200,1,1,2,1,1\n"
        ),
    }


BAD_INPUTS = _bad_inputs()


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_failed_import_leaves_the_store_byte_identical(
    store: CandleStore, tmp_path: Path, name: str
) -> None:
    store.import_file(write_csv(tmp_path / "ok.csv", minute_frame(10)), "b", "A-B", "1m")
    target = store.path("b", "A-B", "1m")
    before = snapshot(target)
    with pytest.raises(DataError):
        store.import_file(BAD_INPUTS[name](tmp_path), "b", "A-B", "1m")
    assert snapshot(target) == before
    assert len(store.load("b", "A-B", "1m")) == 10


def test_failed_merge_leaves_the_store_byte_identical(store: CandleStore, tmp_path: Path) -> None:
    # a 5m file holding 1m candles (written before imports checked the spacing): each half is
    # valid, the union is not, and nothing is written
    target = store.path("b", "A-B", "5m")
    target.parent.mkdir(parents=True)
    minute_frame(10).to_parquet(target, index=False)
    before = snapshot(target)
    fresh = minute_frame(4, start=T0 + 3600, step=300)
    with pytest.raises(DataError) as info:
        store.import_file(write_csv(tmp_path / "f.csv", fresh), "b", "A-B", "5m")
    message = str(info.value)
    assert f"{target.absolute()} merged with" in message
    assert "not multiples of 5m" in message
    assert "--replace" in message
    assert snapshot(target) == before
    assert store.import_file(tmp_path / "f.csv", "b", "A-B", "5m", replace=True).rows_total == 4


def test_unreadable_and_missing_files(store: CandleStore, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        store.import_file(tmp_path / "nope.csv", "b", "A-B", "1m")
    with pytest.raises(DataError, match="is a directory, not a file"):
        store.import_file(tmp_path, "b", "A-B", "1m")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"cannot read it as \.csv"):
        store.import_file(empty, "b", "A-B", "1m")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(DataError, match=r"cannot read it as \.parquet"):
        store.import_file(broken, "b", "A-B", "1m")


def test_unwritable_store_is_an_output_error(store: CandleStore, tmp_path: Path) -> None:
    # the connector folder's name is taken by a file: works even as root, unlike chmod
    (store.data_dir / "candles").mkdir(parents=True)
    (store.data_dir / "candles" / "b").write_text("in the way")
    csv = write_csv(tmp_path / "c.csv", minute_frame(3))
    with pytest.raises(OutputError, match="cannot create the store folder"):
        store.import_file(csv, "b", "A-B", "1m")


def test_write_failure_is_an_output_error_and_changes_nothing(
    store: CandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("b", "A-B", "1m", minute_frame(3))
    target = store.path("b", "A-B", "1m")
    before = snapshot(target)

    def disk_full(table: Any, where: Any, **kwargs: Any) -> None:
        where.write(b"PAR1 half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(OutputError) as info:
        store.write("b", "A-B", "1m", minute_frame(3, start=T0 + 600))
    assert str(info.value).startswith(f"cannot write {target.absolute()}: ")
    assert "No space left on device" in str(info.value)
    assert str(info.value).endswith("the stored file is unchanged")
    assert snapshot(target) == before
    assert not list(target.parent.glob("*.tmp"))


# --- listing ----------------------------------------------------------------------------------


def test_series(store: CandleStore, tmp_path: Path) -> None:
    assert store.series() == []
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(4)), "binance", "BTC-USDT", "1m")
    store.import_file(
        write_csv(tmp_path / "b.csv", minute_frame(10).iloc[::5]), "okx", "ETH-USDT", "5m"
    )
    candles = (store.data_dir / "candles").absolute()
    assert store.series() == [
        StoredSeries(
            "binance",
            "BTC-USDT",
            "1m",
            T0,
            T0 + 180,
            4,
            candles / "binance/BTC-USDT_1m.parquet",
            coverage=((T0, T0 + 180),),
        ),
        StoredSeries(
            "okx",
            "ETH-USDT",
            "5m",
            T0,
            T0 + 300,
            2,
            candles / "okx/ETH-USDT_5m.parquet",
            coverage=((T0, T0 + 300),),
        ),
    ]
    assert not any(s.corrupt for s in store.series())


def test_series_without_statistics_reads_the_timestamp_column(store: CandleStore) -> None:
    target = store.path("b", "A-B", "1m")
    target.parent.mkdir(parents=True)
    table = pa.Table.from_pandas(minute_frame(7), preserve_index=False)
    pq.write_table(table, target, write_statistics=False, row_group_size=3)
    (entry,) = store.series()
    assert (entry.first_ts, entry.last_ts, entry.rows, entry.problem) == (T0, T0 + 360, 7, None)


def _truncated(target: Path) -> None:
    minute_frame(50).to_parquet(target, index=False)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def _pq(frame: pd.DataFrame) -> Callable[[Path], None]:
    return lambda target: frame.to_parquet(target, index=False)


CORRUPT: dict[str, tuple[Callable[[Path], None], str]] = {
    "garbage": (lambda t: t.write_bytes(b"garbage"), "unreadable Parquet"),
    "truncated": (_truncated, "unreadable Parquet"),
    "empty-file": (lambda t: t.write_bytes(b""), "unreadable Parquet"),
    "no-rows": (_pq(minute_frame(0)), "holds no candles"),
    "lacks-columns": (
        _pq(pd.DataFrame({"timestamp": [T0], "open": [1.0]})),
        "lacks column(s) high, low, close, volume",
    ),
    "float-timestamps": (
        _pq(minute_frame(3).astype({"timestamp": float})),
        "'timestamp' is not integer epoch seconds",
    ),
    "microseconds": (
        _pq(minute_frame(3).assign(timestamp=lambda f: f["timestamp"] * 1_000_000)),
        "outside 1970..2100",
    ),
}


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_datasets_are_listed_with_the_reason(
    store: CandleStore, tmp_path: Path, kind: str
) -> None:
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(4)), "b", "A-B", "1m")
    target = store.path("b", "C-D", "1m")
    make, reason = CORRUPT[kind]
    make(target)
    good, bad = store.series()
    assert (good.trading_pair, good.problem, good.rows) == ("A-B", None, 4)
    assert (bad.trading_pair, bad.interval, bad.first_ts, bad.last_ts) == ("C-D", "1m", None, None)
    assert bad.corrupt and bad.problem is not None
    assert reason in bad.problem
    assert bad.fix == (
        "hbbacktest data import FILE --connector b --pair C-D --interval 1m --replace "
        "(or delete the file)"
    )
    assert bad.file == target.absolute()


def test_misnamed_file_is_listed_as_such(store: CandleStore) -> None:
    folder = store.data_dir / "candles" / "b"
    folder.mkdir(parents=True)
    minute_frame(3).to_parquet(folder / "prices.parquet", index=False)
    (entry,) = store.series()
    assert entry.problem == "the file name is not <BASE-QUOTE>_<interval>.parquet"
    assert entry.fix is not None and entry.fix.startswith("rename the file")


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_corrupt_dataset_on_load_names_the_file_and_the_fix(store: CandleStore, kind: str) -> None:
    target = store.path("b", "A-B", "1m")
    target.parent.mkdir(parents=True)
    CORRUPT[kind][0](target)
    with pytest.raises(DataError) as info:
        store.load("b", "A-B", "1m")
    message = str(info.value)
    assert message.startswith(f"{target.absolute()}: cannot read the stored candles: ")
    assert message.endswith(
        "Replace the file with: hbbacktest data import FILE --connector b --pair A-B "
        "--interval 1m --replace"
    )
    # also when the corrupt file is the finer interval a coarser one is built from
    with pytest.raises(DataError, match="cannot read the stored candles"):
        store.load("b", "A-B", "5m")


def test_load_validates_the_stored_candles(store: CandleStore) -> None:
    target = store.path("b", "A-B", "1m")
    target.parent.mkdir(parents=True)
    frame = minute_frame(3)
    frame.loc[2, "low"] = 1000.0
    frame.to_parquet(target, index=False)
    with pytest.raises(DataError, match=r"low > min\(open, close\) at row 2"):
        store.load("b", "A-B", "1m")


def test_import_into_a_corrupt_dataset_says_use_replace(store: CandleStore, tmp_path: Path) -> None:
    target = store.path("b", "A-B", "1m")
    target.parent.mkdir(parents=True)
    _truncated(target)
    before = snapshot(target)
    csv = write_csv(tmp_path / "new data.csv", minute_frame(5))
    with pytest.raises(DataError) as info:
        store.import_file(csv, "b", "A-B", "1m")
    message = str(info.value)
    assert message.startswith(f"{target.absolute()} is corrupt (unreadable Parquet")
    assert "nothing was imported and the file is unchanged" in message
    assert f"hbbacktest data import '{csv}' --connector b --pair A-B --interval 1m --replace" in (
        message
    )
    assert snapshot(target) == before
    report = store.import_file(csv, "b", "A-B", "1m", replace=True)
    assert report.replaced and report.rows_total == 5
    (entry,) = store.series()
    assert entry.problem is None and entry.rows == 5


def test_series_does_not_import_pandas(store: CandleStore, tmp_path: Path) -> None:
    store.import_file(write_csv(tmp_path / "a.csv", minute_frame(4)), "b", "A-B", "1m")
    code = (
        "import sys\n"
        "from hbbacktest.data.store import CandleStore\n"
        f"(s,) = CandleStore({str(store.data_dir)!r}).series()\n"
        "assert s.rows == 4, s\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- files on disk: temporaries, permissions, locks, kill -9 ---------------------------------


def test_write_is_atomic_and_leaves_no_temporary_files(store: CandleStore) -> None:
    assert store.write("b", "A-B", "1m", minute_frame(3)) == 3
    folder = store.path("b", "A-B", "1m").parent
    # the lock file stays on purpose: removing it would let two writers lock different files
    assert sorted(p.name for p in folder.iterdir()) == [".A-B_1m.parquet.lock", "A-B_1m.parquet"]


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    original = os.umask(0o022)
    os.umask(original)
    yield os.umask
    os.umask(original)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_stored_files_get_normal_permissions(
    store: CandleStore, umask: Callable[[int], None], mask: int, mode: int
) -> None:
    umask(mask)
    store.write("b", "A-B", "1m", minute_frame(3))
    target = store.path("b", "A-B", "1m")
    assert stat.S_IMODE(target.stat().st_mode) == mode
    store.write("b", "A-B", "1m", minute_frame(3, start=T0 + 600))  # a rewrite too
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_stale_temporaries_are_removed_by_the_next_writer(store: CandleStore) -> None:
    store.write("b", "A-B", "1m", minute_frame(3))
    folder = store.path("b", "A-B", "1m").parent
    dead = folder / ".A-B_1m.parquet.999999999.tmp"
    other_dataset = folder / ".C-D_1m.parquet.999999999.tmp"
    legacy_old = folder / "tmpab12cd.tmp"  # what mkstemp left before
    legacy_new = folder / "tmpzz99yy.tmp"
    for path in (dead, other_dataset, legacy_old, legacy_new):
        path.write_bytes(b"half a file")
    hours_ago = time.time() - 2 * 3600
    os.utime(legacy_old, (hours_ago, hours_ago))
    store.write("b", "A-B", "1m", minute_frame(3, start=T0 + 600))
    assert not dead.exists()
    assert not legacy_old.exists()
    assert other_dataset.exists()  # not under this lock: its own writer cleans it
    assert legacy_new.exists()  # may belong to an old version still writing


def test_writer_waits_for_the_lock_and_times_out(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store", lock_timeout_s=0.2)
    store.write("b", "A-B", "1m", minute_frame(3))
    target = store.path("b", "A-B", "1m")
    before = snapshot(target)
    with open(target.with_name(".A-B_1m.parquet.lock"), "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(DataError, match="another process has been writing this dataset"):
            store.write("b", "A-B", "1m", minute_frame(3, start=T0 + 600))
        assert time.monotonic() - started >= 0.2
    assert snapshot(target) == before
    assert store.write("b", "A-B", "1m", minute_frame(3, start=T0 + 600)) == 6


def _write_then_hang(data_dir: str, ready: Any) -> None:
    """Child process: start writing the Parquet temporary, then hang until killed."""
    import pyarrow.parquet as child_pq

    def hang(table: Any, where: Any, **kwargs: Any) -> None:
        where.write(b"PAR1 half a file")
        where.flush()
        ready.set()
        time.sleep(600)

    child_pq.write_table = hang
    CandleStore(data_dir).write("b", "A-B", "1m", minute_frame(5, start=T0 + 600))


def test_kill_9_mid_write_leaves_the_store_intact_and_the_next_writer_cleans_up(
    store: CandleStore,
) -> None:
    store.write("b", "A-B", "1m", minute_frame(3))
    target = store.path("b", "A-B", "1m")
    before = snapshot(target)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_write_then_hang, args=(str(store.data_dir), ready))
    child.start()
    try:
        assert ready.wait(60), "the child never started writing"
        temporary = target.with_name(f".A-B_1m.parquet.{child.pid}.tmp")
        assert temporary.exists()
    finally:
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    assert snapshot(target) == before
    assert len(store.load("b", "A-B", "1m")) == 3
    # the dead writer's lock went with it; the next writer removes its temporary
    assert (
        CandleStore(store.data_dir, lock_timeout_s=5).write(
            "b", "A-B", "1m", minute_frame(2, start=T0 + 600)
        )
        == 5
    )
    assert not temporary.exists()


# --- concurrent writers -----------------------------------------------------------------------

WRITERS = 4
ROUNDS = 6
SLICE = 120
STRIDE = 60  # each writer's slice overlaps the next one's by SLICE - STRIDE rows


def _concurrent_writer(data_dir: str, csv_dir: str, index: int, barrier: Any) -> None:
    """Child process: import its overlapping slice into a fresh dataset each round."""
    store = CandleStore(data_dir, lock_timeout_s=120)
    for round_ in range(ROUNDS):
        barrier.wait(120)
        store.import_file(Path(csv_dir) / f"slice{index}.csv", "b", f"R{round_}-USDT", "1m")


def test_concurrent_imports_lose_no_row(tmp_path: Path) -> None:
    # 4 processes importing overlapping slices at once once ended with every row in 1 of 20
    # tries (read-merge-write lost updates); the dataset lock must make it 20 of 20.
    total = STRIDE * (WRITERS - 1) + SLICE
    frame = minute_frame(total)
    for index in range(WRITERS):
        part = frame.iloc[index * STRIDE : index * STRIDE + SLICE]
        write_csv(tmp_path / f"slice{index}.csv", part)
    data_dir = tmp_path / "store"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    writers = [
        ctx.Process(target=_concurrent_writer, args=(str(data_dir), str(tmp_path), index, barrier))
        for index in range(WRITERS)
    ]
    for process in writers:
        process.start()
    for process in writers:
        process.join(300)
    assert [process.exitcode for process in writers] == [0] * WRITERS
    store = CandleStore(data_dir)
    for round_ in range(ROUNDS):
        candles = store.load("b", f"R{round_}-USDT", "1m")
        assert candles.ts.tolist() == frame["timestamp"].tolist(), f"round {round_}"
        assert candles.open.tolist() == frame["open"].tolist()
    leftovers = [p.name for p in (data_dir / "candles" / "b").iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


# --- importers through the store ----------------------------------------------------------------


def _bdv_rows(n: int, *, header: bool) -> str:
    lines = (
        [
            "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
            "taker_buy_volume,taker_buy_quote_volume,ignore"
        ]
        if header
        else []
    )
    for i in range(n):
        ms = (T0 + 60 * i) * 1000
        lines.append(f"{ms},100,101,99,100.5,2,{ms + 59_999},201,10,1,100,0")
    return "\n".join(lines) + "\n"


def test_a_binance_data_vision_file_names_its_pair_and_interval(
    store: CandleStore, tmp_path: Path
) -> None:
    file = tmp_path / "ETHUSDT-1m-2024-01.csv"
    file.write_text(_bdv_rows(5, header=False))
    report = store.import_file(file, "binance")
    assert (report.trading_pair, report.interval, report.format) == (
        "ETH-USDT",
        "1m",
        "binance-vision",
    )
    assert report.rows_total == 5 and report.notes == ()
    assert store.coverage("binance", "ETH-USDT", "1m") == [(T0, T0 + 240)]


def test_futures_candles_for_a_spot_connector_are_noted(store: CandleStore, tmp_path: Path) -> None:
    file = tmp_path / "BTCUSDT-1m-2024-01.csv"
    file.write_text(_bdv_rows(3, header=True))  # a header row: USD-M futures layout
    report = store.import_file(file, "binance", "BTC-USDT", "1m")
    assert report.notes == (
        "the file holds futures candles, imported for the spot connector binance as asked",
    )
    report = store.import_file(file, "binance_perpetual", "BTC-USDT", "1m")
    assert report.notes == ()


# --- review fixes: old interval names, read errors that are no corruption, sparse updates -------


def test_a_dataset_under_an_old_interval_name_is_found(store: CandleStore) -> None:
    frame = minute_frame(10)
    old = store.data_dir / "candles" / "binance" / "BTC-USDT_60s.parquet"
    old.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), old)
    assert canonical_interval("60s") == "1m" and canonical_interval("60m") == "1h"
    assert store.path("binance", "BTC-USDT", "60s") == old
    loaded = store.load("binance", "BTC-USDT", "60s")
    assert loaded.ts.tolist() == frame["timestamp"].tolist()
    assert loaded.close.tolist() == frame["close"].tolist()
    assert store.coverage("binance", "BTC-USDT", "60s") == [(T0, T0 + 540)]
    # any spelling finds it, and writes go into it: one dataset per interval, never two
    assert store.path("binance", "BTC-USDT", "1m") == old
    store.write("binance", "BTC-USDT", "1m", minute_frame(3, start=T0 + 6000))
    assert not (store.data_dir / "candles" / "binance" / "BTC-USDT_1m.parquet").exists()
    assert len(store.load("binance", "BTC-USDT", "1m")) == 13


def test_an_os_error_opening_a_dataset_for_update_leaves_it_in_place(
    store: CandleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write("binance", "BTC-USDT", "1m", minute_frame(10))
    target = store.path("binance", "BTC-USDT", "1m")
    before = target.read_bytes()

    def too_many_open_files(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(pq, "ParquetFile", too_many_open_files)
    with pytest.raises(DataError, match=r"cannot read .*BTC-USDT_1m\.parquet: Too many open"):
        with store.updating("binance", "BTC-USDT", "1m"):
            pytest.fail("the update must not start")
    monkeypatch.undo()
    assert target.read_bytes() == before and store.leftovers() == []
    # real corruption is still set aside
    target.write_bytes(b"not parquet")
    with store.updating("binance", "BTC-USDT", "1m") as update:
        assert update.set_aside is not None and update.coverage == []
    assert store.leftovers() == [update.set_aside.absolute()]


def test_an_update_of_a_sparse_market_commits_without_a_spacing_error(store: CandleStore) -> None:
    frame = minute_frame(40).iloc[::2].reset_index(drop=True)  # a candle every other minute
    sparse = Candles.from_frame(frame, 60)
    with store.updating("binance", "THIN-USDT", "1m") as update:
        update.add(sparse, (T0, T0 + 39 * 60))
        update.commit()
    loaded = store.load("binance", "THIN-USDT", "1m")
    assert loaded.ts.tolist() == frame["timestamp"].tolist()
    assert store.coverage("binance", "THIN-USDT", "1m") == [(T0, T0 + 39 * 60)]
    (entry,) = store.series()
    assert entry.problem is None


def test_verify_accepts_a_fetched_sparse_market(store: CandleStore) -> None:
    frame = minute_frame(40).iloc[::2].reset_index(drop=True)
    with store.updating("binance", "THIN-USDT", "1m") as update:
        update.add(Candles.from_frame(frame, 60), (T0, T0 + 39 * 60))
        update.commit()
    (entry,) = store.series()
    assert store.verify(entry) is None
