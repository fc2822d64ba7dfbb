"""``hbbacktest data fetch`` and the online side of ``run``, against the local replay server.

Every command goes through Typer's CliRunner and real ccxt; the exchange is
``tests/kit/exchange_server.py`` on 127.0.0.1, named by ``HBBACKTEST_EXCHANGE_URLS`` (the
suite runs offline, so a test that fetches turns ``HBBACKTEST_OFFLINE`` off itself).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from hbbacktest.cli.main import app
from hbbacktest.data.sources.venues import VENUES
from hbbacktest.data.store import CandleStore
from tests.kit.exchange_server import ExchangeServer, built_candles

T0 = 1_722_470_400  # 2024-08-01 00:00 UTC
N = 3000  # candles the server holds: 2024-08-01 00:00 – 2024-08-03 01:59
SOURCE = built_candles(N, start_ts=T0, seed=11)
TS = SOURCE[0]
PAIR_ARGS = ("--connector", "binance", "--pair", "BTC-USDT", "--interval", "1m")


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def assert_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit) or (code == 0 and result.exception is None)


def fetch(runner: CliRunner, first: int, last: int, *extra: str) -> Result:
    """``data fetch`` of the candles with open time TS[first] … TS[last]."""
    return invoke(
        runner,
        "data",
        "fetch",
        *PAIR_ARGS,
        "--start",
        str(int(TS[first])),
        "--end",
        str(int(TS[last])),
        *extra,
    )


def stored_file(tmp_path: Path) -> Path:
    """The dataset file under the ``runner`` fixture's data dir."""
    return tmp_path / "env-data" / "candles" / "binance" / "BTC-USDT_1m.parquet"


def assert_equals_source(tmp_path: Path, first: int, last: int) -> None:
    candles = CandleStore(tmp_path / "env-data").load("binance", "BTC-USDT", "1m")
    np.testing.assert_array_equal(candles.ts, TS[first : last + 1])
    for name, column in zip(("open", "high", "low", "close", "volume"), SOURCE[1:], strict=True):
        np.testing.assert_array_equal(getattr(candles, name), column[first : last + 1], name)


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    srv = ExchangeServer()
    srv.add_market("binance", "BTC-USDT", *SOURCE)
    with srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def online(server: ExchangeServer, monkeypatch: pytest.MonkeyPatch) -> ExchangeServer:
    """Fetching allowed, ``binance`` pointed at the replay server; its log and faults cleared."""
    server.clear_faults()
    server.clear_requests()
    monkeypatch.setenv("HBBACKTEST_OFFLINE", "0")
    monkeypatch.setenv("HBBACKTEST_EXCHANGE_URLS", json.dumps({"binance": server.base_url}))
    return server


def write_config(path: Path, connector: str = "binance", pair: str = "BTC-USDT") -> Path:
    path.write_text(
        "controller_name: pmm_simple\n"
        f"connector_name: {connector}\n"
        f"trading_pair: {pair}\n"
        "total_amount_quote: 1000\n"
        "buy_spreads: 0.002,0.004\n"
        "sell_spreads: 0.002,0.004\n"
        "skip_rebalance: true\n"
    )
    return path


# --- data fetch -------------------------------------------------------------------------------


def test_fetch_prints_path_rows_requests_and_rate_then_finds_it_cached(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    result = fetch(runner, 0, 1499)
    assert_exit(result, 0)
    path = stored_file(tmp_path)
    lines = result.stdout.splitlines()
    # one market list + two pages of 1000 and 500 candles
    assert re.fullmatch(
        re.escape(f"{path}: fetched 1,500 candles in 3 request(s), ")
        + r"\d+\.\d s \([\d,]+ rows/s\)",
        lines[0],
    ), lines[0]
    assert lines[1] == "  asked 2024-08-01 00:00:00 – 2024-08-02 00:59:00 UTC"
    assert lines[2].split()[:9] == [
        "binance",
        "BTC-USDT",
        "1m",
        "2024-08-01",
        "00:00:00",
        "→",
        "2024-08-02",
        "00:59:00",
        "1,500",
    ]
    assert lines[2].endswith("gaps: none")
    assert len(lines) == 3
    pages = [
        (int(r.params["startTime"]), int(r.params["endTime"])) for r in online.kline_requests()
    ]
    assert pages == [
        (int(TS[0]) * 1000, int(TS[999]) * 1000),
        (int(TS[1000]) * 1000, int(TS[1499]) * 1000),
    ]
    assert_equals_source(tmp_path, 0, 1499)

    online.clear_requests()
    again = fetch(runner, 100, 1200)
    assert_exit(again, 0)
    assert again.stdout.startswith(
        f"{path}: already cached for 2024-08-01 01:40:00 – 2024-08-01 20:00:00 UTC; nothing fetched"
    )
    assert online.kline_requests() == []
    assert online.requests == []  # not even the market list


def test_fetch_asks_only_for_the_part_not_cached(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    assert_exit(fetch(runner, 500, 999), 0)
    online.clear_requests()
    result = fetch(runner, 0, 1199)
    assert_exit(result, 0)
    assert "fetched 700 candles" in result.stdout
    assert "  asked 2024-08-01 00:00:00 – 2024-08-01 08:19:00 UTC" in result.stdout
    assert "  asked 2024-08-01 16:40:00 – 2024-08-01 19:59:00 UTC" in result.stdout
    asked = [
        (int(r.params["startTime"]) // 1000, int(r.params["endTime"]) // 1000)
        for r in online.kline_requests()
    ]
    assert asked == [(int(TS[0]), int(TS[499])), (int(TS[1000]), int(TS[1199]))]
    assert_equals_source(tmp_path, 0, 1199)


def test_fetch_prints_the_absolute_path_for_a_relative_data_dir(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    result = fetch(runner, 0, 9, "--data-dir", "store")
    assert_exit(result, 0)
    path = tmp_path / "store" / "candles" / "binance" / "BTC-USDT_1m.parquet"
    assert result.stdout.startswith(f"{path}: fetched 10 candles")


def test_fetch_with_offline_on_exits_2(
    runner: CliRunner, online: ExchangeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HBBACKTEST_OFFLINE", "1")
    result = fetch(runner, 0, 99)
    assert_exit(result, 2)
    assert result.stderr.startswith("error: ")
    assert "offline mode is on" in result.stderr
    assert "HBBACKTEST_OFFLINE" in result.stderr
    assert online.requests == []
    assert not stored_file(tmp_path).exists()


def test_fetch_from_an_unknown_connector_exits_2_listing_the_supported_ones(
    runner: CliRunner, online: ExchangeServer
) -> None:
    result = invoke(
        runner, "data", "fetch", "--connector", "binanse", "--pair", "BTC-USDT",
        "--interval", "1m", "--start", str(T0), "--end", str(T0 + 3600),
    )  # fmt: skip
    assert_exit(result, 2)
    assert "no exchange source for connector 'binanse' (did you mean 'binance'?)" in result.stderr
    assert f"candles can be fetched for: {', '.join(VENUES)}" in result.stderr
    assert online.requests == []


def test_fetch_with_start_after_end_exits_2(runner: CliRunner, online: ExchangeServer) -> None:
    result = fetch(runner, 100, 99)
    assert_exit(result, 2)
    assert (
        "--start (2024-08-01 01:40:00) must not be after --end (2024-08-01 01:39:00)"
        in result.stderr
    )
    assert online.requests == []


@pytest.mark.parametrize(
    "urls, expected",
    [
        ('{binance: "http://127.0.0.1:1"}', "HBBACKTEST_EXCHANGE_URLS is not valid JSON"),
        (
            '{"binanse": "http://127.0.0.1:1"}',
            "exchange URL override for unknown connector 'binanse' (did you mean 'binance'?)",
        ),
        ('["http://127.0.0.1:1"]', "HBBACKTEST_EXCHANGE_URLS: expected an object"),
        ('{"binance": "ftp://127.0.0.1:1"}', "is not an http(s) base URL"),
    ],
    ids=["not-json", "unknown-connector", "not-an-object", "not-http"],
)
def test_bad_exchange_urls_exit_2(
    runner: CliRunner,
    online: ExchangeServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    urls: str,
    expected: str,
) -> None:
    monkeypatch.setenv("HBBACKTEST_EXCHANGE_URLS", urls)
    result = fetch(runner, 0, 99)
    assert_exit(result, 2)
    assert expected in result.stderr
    assert len(result.stderr) < 600
    assert online.requests == []
    assert not stored_file(tmp_path).exists()


BEFORE_LISTING = ("--start", "2024-07-01", "--end", "2024-07-01T01:00")  # the server has nothing


def test_an_empty_answer_next_to_stored_candles_is_remembered(
    runner: CliRunner, online: ExchangeServer
) -> None:
    assert_exit(fetch(runner, 0, 99), 0)
    first = invoke(runner, "data", "fetch", *PAIR_ARGS, *BEFORE_LISTING)
    assert_exit(first, 0)
    assert "fetched 0 candles" in first.stdout
    online.clear_requests()
    again = invoke(runner, "data", "fetch", *PAIR_ARGS, *BEFORE_LISTING)
    assert_exit(again, 0)
    assert "already cached" in again.stdout
    assert online.requests == []
    listed = invoke(runner, "data", "list")
    assert "gaps: 61 candles missing  not fetched: 1 hole(s) between 2 covered ranges" in (
        listed.stdout
    )


def test_an_empty_answer_on_an_empty_cache_is_not_asked_twice(
    runner: CliRunner, online: ExchangeServer
) -> None:
    assert_exit(invoke(runner, "data", "fetch", *PAIR_ARGS, *BEFORE_LISTING), 0)
    online.clear_requests()
    again = invoke(runner, "data", "fetch", *PAIR_ARGS, *BEFORE_LISTING)
    assert_exit(again, 0)
    assert online.kline_requests() == []
    assert "already cached" in again.stdout


def test_a_fetch_that_stores_nothing_says_the_exchange_had_none(
    runner: CliRunner, online: ExchangeServer
) -> None:
    result = invoke(runner, "data", "fetch", *PAIR_ARGS, *BEFORE_LISTING)
    assert_exit(result, 0)
    assert "CORRUPT" not in result.stdout
    assert "None" not in result.stdout
    assert "no candles: the exchange had none for 2024-07-01" in result.stdout
    listed = invoke(runner, "data", "list")
    assert_exit(listed, 0)
    assert "no candles: the exchange had none" in listed.stdout
    assert_exit(invoke(runner, "data", "verify"), 0)


def test_a_window_in_the_future_is_refused(runner: CliRunner, online: ExchangeServer) -> None:
    result = invoke(
        runner, "data", "fetch", *PAIR_ARGS, "--start", "2099-01-01", "--end", "2099-01-02"
    )
    assert_exit(result, 2)
    assert "there is nothing to fetch yet" in result.output
    assert online.kline_requests() == []


# --- data list / verify after a fetch ----------------------------------------------------------


def test_list_after_a_fetch_shows_rows_size_and_no_gaps(
    runner: CliRunner, online: ExchangeServer
) -> None:
    assert_exit(fetch(runner, 0, 1199), 0)
    listed = invoke(runner, "data", "list")
    assert_exit(listed, 0)
    (line,) = listed.stdout.splitlines()
    assert re.fullmatch(
        r"binance +BTC-USDT +1m +2024-08-01 00:00:00 → 2024-08-01 19:59:00  1,200 rows  "
        r"[\d.]+ kB  gaps: none",
        line,
    ), line


def test_verify_passes_after_a_fetch_and_names_a_corrupted_file(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    assert_exit(fetch(runner, 0, 299), 0)
    ok = invoke(runner, "data", "verify")
    assert_exit(ok, 0)
    assert re.fullmatch(r"binance +BTC-USDT +1m +ok  300 rows\n", ok.stdout), ok.stdout
    path = stored_file(tmp_path)
    path.write_bytes(b"this is not a parquet file at all" * 10)
    bad = invoke(runner, "data", "verify")
    assert_exit(bad, 3)
    assert "BTC-USDT     1m   CORRUPT: unreadable Parquet" in bad.stdout
    assert f"    file: {path}" in bad.stdout
    assert "--refetch (sets the file aside and fetches again)" in bad.stdout
    assert f"error: 1 of 1 dataset(s) in {tmp_path / 'env-data'} are corrupt" in bad.stderr


def test_fetch_sets_a_corrupt_file_aside_and_fetches_again(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    assert_exit(fetch(runner, 0, 299), 0)
    path = stored_file(tmp_path)
    path.write_bytes(b"garbage")
    online.clear_requests()
    result = fetch(runner, 0, 299)
    assert_exit(result, 0)
    assert "fetched 300 candles" in result.stdout
    assert "warning: the cached binance BTC-USDT 1m candles were corrupt" in result.stdout
    (aside,) = path.parent.glob("BTC-USDT_1m.parquet.corrupt-*")
    assert aside.read_bytes() == b"garbage"
    assert_equals_source(tmp_path, 0, 299)
    verified = invoke(runner, "data", "verify")
    assert_exit(verified, 0)  # the set-aside file is a leftover, not a corrupt dataset
    assert f"leftover: {aside}" in verified.stdout


# --- run, online and offline -----------------------------------------------------------------


def run_args(config: Path, out: Path, first: int, last: int, *extra: str) -> list[str]:
    return [
        "run",
        str(config),
        "--start",
        str(int(TS[first])),
        "--end",
        str(int(TS[last])),
        "--output",
        str(out),
        *extra,
    ]


def test_run_fetches_the_window_then_runs_offline_without_a_request(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "bot.yml")
    first = runner.invoke(app, run_args(config, tmp_path / "a.json", 60, 659))
    assert_exit(first, 0)
    assert f"data: candle store {tmp_path / 'env-data'}\n" in first.stdout
    klines = online.kline_requests()
    assert [(int(r.params["startTime"]), int(r.params["endTime"])) for r in klines] == [
        (int(TS[60]) * 1000, int(TS[659]) * 1000)
    ]
    assert_equals_source(tmp_path, 60, 659)

    online.clear_requests()
    second = runner.invoke(app, run_args(config, tmp_path / "b.json", 60, 659, "--offline"))
    assert_exit(second, 0)
    assert online.requests == []
    assert f"data: candle store {tmp_path / 'env-data'}\n" in second.stdout
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["results"] == b["results"]
    assert a["results"]["total_executors"] > 0


def test_run_offline_on_an_empty_cache_exits_3_with_the_fetch_command(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "bot.yml")
    out = tmp_path / "r.json"
    result = runner.invoke(app, run_args(config, out, 0, 599, "--offline"))
    assert_exit(result, 3)
    assert "offline: the cache lacks binance BTC-USDT 1m candles" in result.stderr
    assert (
        "hbbacktest data fetch --connector binance --pair BTC-USDT --interval 1m "
        "--start 2024-08-01T00:00:00Z --end 2024-08-01T09:59:00Z" in result.stderr
    )
    assert online.requests == []
    assert not out.exists()


def test_run_prices_an_unsupported_venue_from_binance_candles(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "xrpl.yml", connector="xrpl", pair="XRP-USD")
    out = tmp_path / "r.json"
    result = runner.invoke(
        app,
        run_args(
            config, out, 0, 599, "--candles-connector", "binance", "--candles-pair", "BTC-USDT"
        ),
    )
    assert_exit(result, 0)
    assert "pmm_simple on xrpl XRP-USD" in result.stdout
    data_line = next(line for line in result.stdout.splitlines() if line.startswith("data: "))
    assert data_line.startswith(f"data: candle store {tmp_path / 'env-data'}")
    assert data_line.endswith("; prices from binance BTC-USDT")
    note = "prices from binance BTC-USDT while trading xrpl XRP-USD"
    assert f"warning: {note}" in result.stdout
    document = json.loads(out.read_text())
    assert any(w.startswith(note) for w in document["warnings"])
    assert document["data_source"] == data_line.removeprefix("data: ")
    assert document["request"]["config"]["connector_name"] == "xrpl"
    assert len(online.kline_requests()) == 1
    # the candles are stored under the price source, nothing under the traded venue
    assert stored_file(tmp_path).exists()
    assert not (tmp_path / "env-data" / "candles" / "xrpl").exists()


# --- data import of a Binance Data Vision zip -------------------------------------------------


def vision_zip(path: Path, first: int, last: int) -> Path:
    """A spot Binance Data Vision kline zip of source rows ``first … last`` (no header, ms)."""
    ts, o, h, lo, c, v = (column[first : last + 1] for column in SOURCE)
    lines = [
        f"{t * 1000},{o_!r},{h_!r},{l_!r},{c_!r},{v_!r},{t * 1000 + 59_999},{v_ * c_!r},7,"
        f"{v_ / 2!r},{v_ * c_ / 2!r},0"
        for t, o_, h_, l_, c_, v_ in zip(
            ts.tolist(), o.tolist(), h.tolist(), lo.tolist(), c.tolist(), v.tolist(), strict=True
        )
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.name.removesuffix(".zip") + ".csv", "\n".join(lines) + "\n")
    path.write_bytes(buffer.getvalue())
    return path


def test_import_of_a_vision_zip_takes_pair_and_interval_from_its_name(
    runner: CliRunner, online: ExchangeServer, tmp_path: Path
) -> None:
    archive = vision_zip(tmp_path / "BTCUSDT-1m-2024-08.zip", 200, 319)
    result = invoke(runner, "data", "import", str(archive), "--connector", "binance")
    assert_exit(result, 0)
    path = stored_file(tmp_path)
    assert result.stdout.splitlines() == [
        f"{path}: 120 candles, 2024-08-01 03:20:00 – 2024-08-01 05:19:00 UTC",
        f"  from {archive}: 120 read, 120 new, 0 replaced",
        "  gaps: none",
    ]
    assert_equals_source(tmp_path, 200, 319)

    # The import counts as asked for: a fetch around it downloads only the rest.
    fetched = fetch(runner, 0, 499)
    assert_exit(fetched, 0)
    assert "fetched 380 candles" in fetched.stdout
    asked = [
        (int(r.params["startTime"]) // 1000, int(r.params["endTime"]) // 1000)
        for r in online.kline_requests()
    ]
    assert asked == [(int(TS[0]), int(TS[199])), (int(TS[320]), int(TS[499]))]
    assert_equals_source(tmp_path, 0, 499)
