"""Candle file importers: Binance Data Vision, freqtrade JSON/Feather, generic CSV/Parquet."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from hbbacktest.core.errors import ConfigError, DataError
from hbbacktest.data.convert import normalize_frame
from hbbacktest.data.sources.importers import (
    FORMATS,
    MAX_UNPACKED_BYTES,
    ImportedFile,
    read_candle_file,
)

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC
T2025 = 1_736_035_200  # 2025-01-05 00:00 UTC
BDV_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)


# --- builders ------------------------------------------------------------------------------


def ohlcv(n: int) -> dict[str, np.ndarray]:
    """Candles whose values follow from the row number: open 100+i, close 101+i …"""
    i = np.arange(n, dtype=np.float64)
    return {
        "open": 100 + i,
        "high": 102 + i,
        "low": 99 + i,
        "close": 101 + i,
        "volume": 10 + i,
    }


def bdv_csv(
    start_s: int, n: int, *, step: int = 60, scale: int = 1000, header: bool = False
) -> str:
    """Binance Data Vision kline rows as Binance writes them (8 decimals, 12 columns)."""
    values = ohlcv(n)
    lines = [BDV_HEADER] if header else []
    for i in range(n):
        open_time = (start_s + i * step) * scale
        close_time = open_time + step * scale - 1
        prices = ",".join(f"{values[c][i]:.8f}" for c in ("open", "high", "low", "close", "volume"))
        lines.append(
            f"{open_time},{prices},{close_time},{1000.5 + i:.8f},{7 + i},1.00000000,101.0,0"
        )
    return "\n".join(lines) + "\n"


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def bdv_zip(folder: Path, name: str, text: str) -> Path:
    """``name`` (e.g. BTCUSDT-1m-2024-01.zip) holding one CSV of the same stem."""
    return write_zip(folder / name, {name.removesuffix(".zip") + ".csv": text})


def normalized(imported: ImportedFile, source: str = "test") -> pd.DataFrame:
    return normalize_frame(imported.frame, source=source)


def assert_candles(frame: pd.DataFrame, start_s: int, n: int, step: int = 60) -> None:
    assert frame["timestamp"].tolist() == [start_s + i * step for i in range(n)]
    expected = ohlcv(n)
    for column, values in expected.items():
        np.testing.assert_array_equal(frame[column].to_numpy(), values, err_msg=column)


def error_of(path: Path, **kwargs: str) -> str:
    with pytest.raises(DataError) as info:
        read_candle_file(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    return message


# --- Binance Data Vision ---------------------------------------------------------------------


def test_bdv_spot_monthly_zip_in_ms(tmp_path: Path) -> None:
    path = bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 5))
    imported = read_candle_file(path)
    assert imported.format == "binance-vision"
    assert (imported.trading_pair, imported.interval, imported.market) == ("BTC-USDT", "1m", None)
    assert list(imported.frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert imported.frame["timestamp"].dtype == np.int64
    assert_candles(normalized(imported), T0, 5)


def test_bdv_spot_daily_zip_in_microseconds_since_2025(tmp_path: Path) -> None:
    path = bdv_zip(tmp_path, "BTCFDUSD-1s-2025-01-05.zip", bdv_csv(T2025, 4, step=1, scale=10**6))
    imported = read_candle_file(path)
    assert imported.frame["timestamp"].iloc[0] == T2025 * 10**6
    assert (imported.trading_pair, imported.interval) == ("BTC-FDUSD", "1s")
    assert imported.market == "spot"  # only spot files are in µs
    assert_candles(normalized(imported), T2025, 4, step=1)


def test_bdv_futures_csv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT-5m-2024-02.csv"
    path.write_text(bdv_csv(T0, 3, step=300, header=True))
    imported = read_candle_file(path)
    assert imported.format == "binance-vision"
    assert (imported.trading_pair, imported.interval) == ("ETH-USDT", "5m")
    assert imported.market == "futures"  # only futures files carry a header
    assert_candles(normalized(imported), T0, 3, step=300)


def test_bdv_futures_zip_with_header_and_crlf(tmp_path: Path) -> None:
    text = bdv_csv(T0, 3, header=True).replace("\n", "\r\n")
    imported = read_candle_file(bdv_zip(tmp_path, "SOLUSDT-1m-2024-01-31.zip", text))
    assert (imported.trading_pair, imported.market) == ("SOL-USDT", "futures")
    assert_candles(normalized(imported), T0, 3)


@pytest.mark.parametrize(
    ("folders", "market"),
    [
        (("data", "spot", "monthly", "klines", "BTCUSDT", "1m"), "spot"),
        (("data", "futures", "um", "monthly", "klines", "BTCUSDT", "1m"), "futures"),
    ],
)
def test_bdv_market_from_the_download_layout(
    tmp_path: Path, folders: tuple[str, ...], market: str
) -> None:
    path = bdv_zip(tmp_path.joinpath(*folders), "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 2))
    assert read_candle_file(path).market == market


def test_bdv_coin_m_and_monthly_interval_names(tmp_path: Path) -> None:
    coin_m = read_candle_file(bdv_zip(tmp_path, "BTCUSD_PERP-1h-2024-01.zip", bdv_csv(T0, 2)))
    assert (coin_m.trading_pair, coin_m.interval, coin_m.market) == ("BTC-USD", "1h", "futures")
    monthly = read_candle_file(bdv_zip(tmp_path, "ETHBTC-1mo-2024-01.zip", bdv_csv(T0, 1)))
    assert (monthly.trading_pair, monthly.interval) == ("ETH-BTC", "1M")


def test_bdv_zip_named_otherwise_guesses_from_its_member(tmp_path: Path) -> None:
    path = write_zip(
        tmp_path / "download.zip", {"DOGEUSDT-15m-2024-03.csv": bdv_csv(T0, 2, step=900)}
    )
    imported = read_candle_file(path)
    assert (imported.trading_pair, imported.interval) == ("DOGE-USDT", "15m")


def test_bdv_detected_by_content_and_forced_by_format(tmp_path: Path) -> None:
    bare = tmp_path / "klines.csv"
    bare.write_text(bdv_csv(T0, 3))
    imported = read_candle_file(bare)
    assert imported.format == "binance-vision"
    assert (imported.trading_pair, imported.interval, imported.market) == (None, None, None)
    assert_candles(normalized(imported), T0, 3)
    renamed = tmp_path / "klines.dat"
    renamed.write_bytes(bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 3)).read_bytes())
    assert read_candle_file(renamed).format == "binance-vision"  # zip by its first bytes
    # A header the generic reader understands too: the explicit format decides.
    headed = tmp_path / "headed.csv"
    headed.write_text(bdv_csv(T0, 3, header=True))
    generic = read_candle_file(headed, format="csv")
    assert generic.format == "csv"
    assert len(generic.frame.columns) == 12
    assert_candles(normalized(generic), T0, 3)


def test_bdv_with_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.csv"
    path.write_bytes(b"\xef\xbb\xbf" + bdv_csv(T0, 2, header=True).encode())
    assert_candles(normalized(read_candle_file(path)), T0, 2)


# --- Binance Data Vision: hostile input ---------------------------------------------------------


def test_bdv_zip_with_two_members(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "BTCUSDT-1m-2024-01.zip", {"a.csv": bdv_csv(T0, 1), "b.csv": "x"})
    message = error_of(path)
    assert "holds 2 files ('a.csv', 'b.csv')" in message
    assert "exactly one CSV" in message


def test_bdv_empty_zip(tmp_path: Path) -> None:
    assert "zip archive is empty" in error_of(write_zip(tmp_path / "x.zip", {}))


def test_bdv_zip_member_outside_the_archive(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "BTCUSDT-1m-2024-01.zip", {"../../etc/evil.csv": bdv_csv(T0, 1)})
    assert "points outside the archive" in error_of(path)


def _patch_declared_size(data: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory declares for the only member."""
    at = data.index(b"PK\x01\x02") + 24
    return data[:at] + struct.pack("<I", size) + data[at + 4 :]


def test_bdv_zip_member_declared_over_the_limit(tmp_path: Path) -> None:
    path = bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 2))
    path.write_bytes(_patch_declared_size(path.read_bytes(), MAX_UNPACKED_BYTES + 1))
    message = error_of(path)
    assert "would unpack to 1,073,741,825 bytes, more than the limit" in message


def test_bdv_zip_member_that_unpacks_to_more_than_it_declares(tmp_path: Path) -> None:
    path = bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 50))
    path.write_bytes(_patch_declared_size(path.read_bytes(), 100))
    message = error_of(path)  # cut off at the declared size, then the CRC does not match
    assert "not a readable zip archive" in message
    assert "CRC" in message


def test_bdv_truncated_zip(tmp_path: Path) -> None:
    path = bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 50))
    path.write_bytes(path.read_bytes()[:300])
    message = error_of(path)
    assert "not a readable zip archive" in message
    assert "download it again" in message


def test_bdv_wrong_column_count(tmp_path: Path) -> None:
    seven = "1704067200000,100,102,99,101,10,1704067259999\n"
    message = error_of(bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", seven))
    assert "its first line has 7 columns" in message
    assert "a Binance Data Vision klines file has 12 numeric columns (open_time, open," in message
    later = bdv_csv(T0, 2) + seven
    path = tmp_path / "later.csv"
    path.write_text(later)
    assert "line 3 has 7 columns: '1704067200000,100" in error_of(path, format="binance-vision")


def test_bdv_non_numeric_values(tmp_path: Path) -> None:
    lines = bdv_csv(T0, 3).splitlines()
    lines[1] = lines[1].replace("101.00000000", "abc", 1)
    path = bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", "\n".join(lines))
    assert "line 2: open is 'abc', not a number" in error_of(path)
    lines = bdv_csv(T0, 3, header=True).splitlines()
    lines[3] = "1704067320000.5" + lines[3][13:]
    path = bdv_zip(tmp_path, "ETHUSDT-1m-2024-01.zip", "\n".join(lines))
    message = error_of(path)
    assert "line 4: open_time is '1704067320000.5', not an integer (epoch ms or µs)" in message


def test_bdv_blank_values_reach_normalize_frame_as_missing(tmp_path: Path) -> None:
    lines = bdv_csv(T0, 3).splitlines()
    lines[2] = lines[2].replace("102.00000000", "", 1)
    path = tmp_path / "BTCUSDT-1m-2024-01.csv"
    path.write_text("\n".join(lines))
    imported = read_candle_file(path)
    with pytest.raises(DataError, match="NaN or non-numeric prices/volume at row 2"):
        normalize_frame(imported.frame, source=str(path))


def test_bdv_without_candles(tmp_path: Path) -> None:
    header_only = bdv_zip(tmp_path, "BTCUSDT-1m-2024-01.zip", BDV_HEADER + "\n")
    assert "holds a header but no candles" in error_of(header_only)
    blank = bdv_zip(tmp_path, "ETHUSDT-1m-2024-01.zip", "\n\n")
    assert "holds no rows" in error_of(blank)


def test_bdv_forced_on_a_non_bdv_file(tmp_path: Path) -> None:
    path = tmp_path / "candles.csv"
    path.write_text("timestamp,open,high,low,close\n1704067200,1,2,1,2\n")
    assert "its first line has 5 columns" in error_of(path, format="binance-vision")


# --- freqtrade -------------------------------------------------------------------------------


def freqtrade_rows(n: int, start_s: int = T0, step: int = 60) -> list[list[float]]:
    values = ohlcv(n)
    return [[(start_s + i * step) * 1000, *(float(values[c][i]) for c in values)] for i in range(n)]


def test_freqtrade_json_spot(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    path.write_text(json.dumps(freqtrade_rows(4)))
    imported = read_candle_file(path)
    assert imported.format == "freqtrade-json"
    assert (imported.trading_pair, imported.interval, imported.market) == ("BTC-USDT", "1m", "spot")
    assert imported.frame["timestamp"].dtype == np.int64
    assert_candles(normalized(imported), T0, 4)


def test_freqtrade_json_gz_futures_folder(tmp_path: Path) -> None:
    path = tmp_path / "binance" / "futures" / "BTC_USDT_USDT-5m-futures.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(json.dumps(freqtrade_rows(3, step=300)).encode()))
    imported = read_candle_file(path)
    assert imported.format == "freqtrade-json"
    assert (imported.trading_pair, imported.interval, imported.market) == (
        "BTC-USDT",
        "5m",
        "futures",
    )
    assert_candles(normalized(imported), T0, 3, step=300)


def test_freqtrade_json_as_pandas_writes_it(tmp_path: Path) -> None:
    # freqtrade stores DataFrame.to_json(orient="values") with the date as integer epoch ms.
    frame = pd.DataFrame({"date": [T0 * 1000, (T0 + 60) * 1000], **ohlcv(2)})
    path = tmp_path / "ETH_BTC-1m.json"
    frame.to_json(path, orient="values")
    assert_candles(normalized(read_candle_file(path)), T0, 2)


def test_freqtrade_feather_futures(tmp_path: Path) -> None:
    dates = pd.to_datetime([T0 + i * 60 for i in range(3)], unit="s", utc=True).as_unit("ns")
    frame = pd.DataFrame({"date": dates, **ohlcv(3)})
    path = tmp_path / "BTC_USDT_USDT-1m-futures.feather"
    feather.write_feather(frame, path, compression="lz4")
    imported = read_candle_file(path)
    assert imported.format == "freqtrade-feather"
    assert (imported.trading_pair, imported.interval, imported.market) == (
        "BTC-USDT",
        "1m",
        "futures",
    )
    assert str(imported.frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert_candles(normalized(imported), T0, 3)
    renamed = tmp_path / "candles.bin"
    renamed.write_bytes(path.read_bytes())
    assert read_candle_file(renamed).format == "freqtrade-feather"  # by its first bytes


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{not json", "it is not valid JSON"),
        (b'{"date": 1}', "it holds a JSON dict, not a list"),
        (b"[]", "it holds no candles (an empty list)"),
        (b"[[1704067200000, 1, 2, 1, 2]]", "row 0 has 5 values, not 6"),
        (b'[[1704067200000, 1, 2, 1, 2, 3], [1704067260000, "x", 2, 1, 2, 3]]',
         "row 1: open is \"'x'\", not a number"),
        (b"[1704067200000, 1, 2]", "row 0 is '1704067200000', not a list"),
    ],
)  # fmt: skip
def test_freqtrade_json_hostile(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    path.write_bytes(content)
    message = error_of(path)
    assert problem in message
    assert "a freqtrade JSON file is a list of [time_ms, open, high, low, close, volume]" in message


def test_freqtrade_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1m.json.gz"
    path.write_bytes(gzip.compress(json.dumps(freqtrade_rows(50)).encode())[:60])
    assert "not readable gzip data" in error_of(path)


def test_freqtrade_files_that_hold_no_candles(tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT_USDT-8h-funding_rate.feather"
    feather.write_feather(pd.DataFrame({"date": [1], **ohlcv(1)}), path)
    assert "holds freqtrade funding rates, not traded candles" in error_of(path)
    trades = tmp_path / "BTC_USDT-trades.json"
    trades.write_text("[]")
    assert "holds freqtrade trades" in error_of(trades)


def test_freqtrade_feather_hostile(tmp_path: Path) -> None:
    garbage = tmp_path / "BTC_USDT-1m.feather"
    garbage.write_bytes(b"definitely not arrow")
    assert "not a readable Feather (Arrow IPC) file" in error_of(garbage)
    columns = tmp_path / "ETH_USDT-1m.feather"
    feather.write_feather(pd.DataFrame({"date": [1], "price": [2.0]}), columns)
    message = error_of(columns)
    assert "it has the columns date, price" in message
    assert "columns date, open, high, low, close, volume" in message
    empty = tmp_path / "SOL_USDT-1m.feather"
    feather.write_feather(pa.table({"date": pa.array([], pa.int64()), **{
        c: pa.array([], pa.float64()) for c in ("open", "high", "low", "close", "volume")
    }}), empty)  # fmt: skip
    assert "holds no candles" in error_of(empty)


# --- generic CSV / Parquet -------------------------------------------------------------------


def generic_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": [T0 + i * 60 for i in range(n)], **ohlcv(n)})


def test_generic_csv_reads_as_pandas_does(tmp_path: Path) -> None:
    path = tmp_path / "candles.csv"
    generic_frame(3).assign(extra="x").to_csv(path, index=False)
    imported = read_candle_file(path)
    assert imported.format == "csv"
    assert (imported.trading_pair, imported.interval, imported.market) == (None, None, None)
    pd.testing.assert_frame_equal(imported.frame, pd.read_csv(path))
    assert_candles(normalized(imported), T0, 3)


@pytest.mark.parametrize("name", ["candles.parquet", "candles.pq", "candles.data"])
def test_generic_parquet_reads_as_pandas_does(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    generic_frame(3).to_parquet(path)
    imported = read_candle_file(path)
    assert imported.format == "parquet"
    pd.testing.assert_frame_equal(imported.frame, pd.read_parquet(path))
    assert_candles(normalized(imported), T0, 3)


def test_generic_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "candles.parquet"
    path.write_bytes(b"not parquet at all")
    message = error_of(path)  # worded as CandleStore.import_file always did
    assert "cannot read it as .parquet: ArrowInvalid" in message
    assert "expected a CSV (with a header row) or Parquet table with a time column" in message
    binary = tmp_path / "candles.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    assert "cannot read it as .csv: UnicodeDecodeError" in error_of(binary)
    assert "cannot read it as Parquet: " in error_of(binary, format="parquet")


# --- the entry point ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_file_in_every_format(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    path.write_bytes(b"")
    assert "the file is empty (0 bytes)" in error_of(path, format=fmt)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("empty.csv", "cannot read it as .csv: the file is empty"),
        ("empty.parquet", "cannot read it as .parquet: the file is empty"),
        ("BTCUSDT-1m-2024-01.zip", "cannot read it as Binance Data Vision klines: the file"),
        ("BTC_USDT-1m.json", "cannot read it as freqtrade JSON: the file is empty"),
        ("BTC_USDT-1m.feather", "cannot read it as freqtrade Feather: the file is empty"),
    ],
)
def test_empty_file_names_the_format_it_was_read_as(tmp_path: Path, name: str, said: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert said in error_of(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        read_candle_file(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory, not a file"):
        read_candle_file(tmp_path)


def test_unknown_format_lists_the_formats(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("x")
    with pytest.raises(ConfigError) as info:
        read_candle_file(path, format="binance")
    message = str(info.value)
    assert "unknown candle file format 'binance' (did you mean 'binance-vision'?)" in message
    assert "auto, csv, parquet, binance-vision, freqtrade-json, freqtrade-feather" in message


def test_auto_detects_json_by_content(tmp_path: Path) -> None:
    path = tmp_path / "candles.txt"
    path.write_text(json.dumps(freqtrade_rows(2)))
    assert read_candle_file(path).format == "freqtrade-json"


def test_zipped_member_read_in_memory_leaves_no_files(tmp_path: Path) -> None:
    path = bdv_zip(tmp_path / "in", "BTCUSDT-1m-2024-01.zip", bdv_csv(T0, 2))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    read_candle_file(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_importing_the_package_loads_neither_pandas_nor_pyarrow() -> None:
    code = (
        "import sys, hbbacktest.data.sources.importers as m; "
        "print(sorted(x for x in ('pandas', 'pyarrow', 'zipfile', 'orjson') if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bdv_row_values_round_trip_exactly(tmp_path: Path) -> None:
    # One row in Binance's exact layout: 8 decimals, close time, trade count, ignore.
    row = (
        "1704067200000,42283.58000000,42298.62000000,42261.02000000,42298.61000000,"
        "35.92724000,1704067259999,1519032.03839330,1261,23.99566000,1014553.16497260,0\n"
    )
    imported = read_candle_file(write_zip(tmp_path / "BTCUSDT-1m-2024-01.zip", {
        "BTCUSDT-1m-2024-01.csv": row,
    }))  # fmt: skip
    frame = normalized(imported)
    assert frame.iloc[0].tolist() == [T0, 42283.58, 42298.62, 42261.02, 42298.61, 35.92724]
