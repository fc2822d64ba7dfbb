"""The bad-input catalogue: every hostile input we know of → its exit code and message.

Each row is one input a user (or an attacker) can give the CLI, the exit code it must end with
(README: 0 ok, 1 internal error, 2 config or options, 3 data, 4 controller code, 5 output,
130 Ctrl-C) and fragments the message must contain. No row may end in a traceback. Add a row
whenever a new case is found.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hbbacktest.cli.main import app
from tests.kit.files import candles_csv

DEMO = textwrap.dedent(
    """\
    controller_name: pmm_simple
    connector_name: demo
    trading_pair: BTC-USDT
    total_amount_quote: 1000
    buy_spreads: 0.002,0.004
    sell_spreads: 0.002,0.004
    skip_rebalance: true
    """
)
DAY = ["--start", "2024-01-08", "--end", "2024-01-08T06:00:00"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOSTILE = str(FIXTURES / "hostile_controllers")
FAST_TIMEOUT = {"HBBACKTEST_CONTROLLER_TIMEOUT": "1"}


def plugin(name: str, mode: str = "ok") -> str:
    """A demo config for one of the hostile fixture controllers, misbehaving as ``mode`` says."""
    return demo(f"controller_name: {name}\nmode: {mode}")


def demo(extra: str) -> str:
    """The demo config with the keys in ``extra`` replaced (or added)."""
    keys = {line.split(":")[0] for line in extra.splitlines() if ":" in line}
    kept = [line for line in DEMO.splitlines() if line.split(":")[0] not in keys]
    return "\n".join([*kept, *extra.splitlines()]) + "\n"


def strict_json_result(tmp: Path) -> None:
    import json

    document = json.loads(
        (tmp / "odd.json").read_text(),
        parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"),
    )
    extras = document["request"]["config"]
    assert extras["junk"] == "nan" and extras["big"] == str(10**40)
    assert extras["when"] == "2024-01-01" and extras["tags"] == ["a", "b"]
    assert any("'junk' is not a field" in w for w in document["warnings"])


def stored(tmp: Path) -> Path:
    return tmp / "data" / "candles" / "binance" / "BTC-USDT_1m.parquet"


def import_ok(tmp: Path) -> None:
    csv = candles_csv(tmp / "good.csv")
    args = ["data", "import", str(csv), "--connector", "binance", "--pair", "BTC-USDT"]
    result = CliRunner().invoke(app, [*args, "--interval", "1m"])
    assert result.exit_code == 0, result.output


def corrupt_store(tmp: Path) -> None:
    import_ok(tmp)
    stored(tmp).write_bytes(stored(tmp).read_bytes()[:100])
    (tmp / "before.bin").write_bytes(stored(tmp).read_bytes())
    (tmp / "good.csv").rename(tmp / "fresh.csv")


def store_unchanged(tmp: Path) -> None:
    assert stored(tmp).read_bytes() == (tmp / "before.bin").read_bytes()
    assert not [p.name for p in stored(tmp).parent.iterdir() if p.name.endswith(".tmp")]


def import_microseconds(tmp: Path) -> None:
    csv = candles_csv(tmp / "us.csv", scale=1_000_000)
    args = ["data", "import", str(csv), "--connector", "binance", "--pair", "BTC-USDT"]
    result = CliRunner().invoke(app, [*args, "--interval", "1m"])
    assert result.exit_code == 0, result.output


def write_csv(name: str, **kwargs: int) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        candles_csv(tmp / name, **kwargs)

    return setup


def user_pmm_simple_broken(tmp: Path) -> None:
    folder = tmp / "mine" / "market_making"
    folder.mkdir(parents=True)
    (folder / "pmm_simple.py").write_text("raise RuntimeError('my bug')\n")


def user_dir_with_hang(tmp: Path) -> None:
    folder = tmp / "mine" / "market_making"
    folder.mkdir(parents=True)
    (folder / "spins.py").write_text("while True:\n    pass\n")


def demo_result(tmp: Path) -> None:
    """A demo run's result at ``tmp/r.json`` and a regular file ``tmp/file``."""
    args = ["run", *DAY, "--output", str(tmp / "r.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (tmp / "file").write_text("not a directory\n")


@dataclass
class Case:
    """One row: what to run, and what must come out."""

    id: str
    args: list[str]
    code: int
    fragments: tuple[str, ...]
    config: str | bytes | None = None
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


CASES: list[Case] = [
    # --- controller config: numbers --------------------------------------------------------
    Case(
        "inf amount",
        ["run", "{cfg}", *DAY],
        2,
        ("total_amount_quote = inf", "finite number"),
        demo("total_amount_quote: .inf"),
    ),
    Case(
        "1e309 amount",
        ["run", "{cfg}", *DAY],
        2,
        ("total_amount_quote", "finite number"),
        demo("total_amount_quote: 1e309"),
    ),
    Case(
        "nan spread string",
        ["run", "{cfg}", *DAY],
        2,
        ("buy_spreads.0 = 'nan'", "finite"),
        demo('buy_spreads: "nan"'),
    ),
    Case(
        "inf in spread list",
        ["run", "{cfg}", *DAY],
        2,
        ("buy_spreads.0 = inf",),
        demo("buy_spreads: [.inf]"),
    ),
    Case(
        "nan amount weight",
        ["run", "{cfg}", *DAY],
        2,
        ("buy_amounts_pct.0 = nan",),
        demo("buy_amounts_pct: [.nan, 1]"),
    ),
    Case(
        "inf take profit",
        ["run", "{cfg}", *DAY],
        2,
        ("take_profit = 'inf'",),
        demo('take_profit: "inf"'),
    ),
    Case(
        "grid end_price inf",
        ["run", "{cfg}", *DAY],
        2,
        ("end_price = inf",),
        "controller_name: grid_strike\nconnector_name: demo\ntrading_pair: BTC-USDT\n"
        "start_price: 40000\nend_price: .inf\nlimit_price: 39000\n",
    ),
    Case(
        "nan bollinger threshold",
        ["run", "{cfg}", *DAY],
        2,
        ("bb_long_threshold = nan",),
        "controller_name: bollinger_v1\nconnector_name: demo\ntrading_pair: BTC-USDT\n"
        "bb_long_threshold: .nan\n",
    ),
    Case(
        "leverage 10**30",
        ["run", "{cfg}", *DAY],
        2,
        ("leverage", "out of range"),
        demo(f"leverage: {10**30}"),
    ),
    Case(
        "time_limit 10**20",
        ["run", "{cfg}", *DAY],
        2,
        ("time_limit", "out of range"),
        demo(f"time_limit: {10**20}"),
    ),
    Case(
        "leverage too high",
        ["run", "{cfg}", *DAY],
        2,
        ("leverage", "less than or equal to 1000"),
        demo("leverage: 5000"),
    ),
    Case(
        "boolean amount",
        ["run", "{cfg}", *DAY],
        2,
        ("total_amount_quote = True", "boolean"),
        demo("total_amount_quote: true"),
    ),
    Case(
        "negative spread",
        ["run", "{cfg}", *DAY],
        2,
        ("buy_spreads", ">= 0"),
        demo("buy_spreads: -0.01"),
    ),
    Case(
        "amounts length mismatch",
        ["run", "{cfg}", *DAY],
        2,
        ("buy_amounts_pct", "has 1 values but buy_spreads has 2"),
        demo("buy_amounts_pct: [1]"),
    ),
    Case(
        "zero capital",
        ["run", "{cfg}", *DAY],
        2,
        ("total_amount_quote = 0", "greater than 0"),
        demo("total_amount_quote: 0"),
    ),
    # --- controller config: sizes and names ------------------------------------------------
    Case(
        "100,000 levels",
        ["run", "{cfg}", *DAY],
        2,
        ("holds more than 100,000 values",),
        demo("buy_spreads: [" + ", ".join(["0.01"] * 100_000) + "]"),
    ),
    Case(
        "101 levels",
        ["run", "{cfg}", *DAY],
        2,
        ("buy_spreads", "at most 100 items"),
        demo("buy_spreads: [" + ", ".join(["0.01"] * 101) + "]"),
    ),
    Case(
        "10,000-char pair",
        ["run", "{cfg}", *DAY],
        2,
        ("trading_pair", "BASE-QUOTE", "10000 characters"),
        demo("trading_pair: " + "X" * 10_000),
    ),
    Case(
        "pair without dash",
        ["run", "{cfg}", *DAY],
        2,
        ("did you mean 'BTC-USDT'",),
        demo("trading_pair: BTCUSDT"),
    ),
    Case(
        "connector with a slash",
        ["run", "{cfg}", *DAY],
        2,
        ("connector_name", "Hummingbot connector name"),
        demo("connector_name: ../../etc"),
    ),
    Case(
        "controller_name a number",
        ["run", "{cfg}", *DAY],
        2,
        ("controller_name = 123 is a int, not a controller name",),
        demo("controller_name: 123"),
    ),
    Case(
        "odd values under unknown keys",
        ["run", "{cfg}", *DAY, "--output", "{tmp}/odd.json"],
        0,
        ("result written to",),
        demo(
            f"junk: .nan\nbig: {10**40}\nwhen: 2024-01-01\nblob: !!binary aGVsbG8=\n"
            "tags: !!set {a, b}\nid: 7"
        ),
        check=strict_json_result,
    ),
    Case(
        "integer of 5,000 digits",
        ["run", "{cfg}", *DAY],
        2,
        ("not valid YAML", "digits"),
        demo("total_amount_quote: " + "9" * 5000),
    ),
    Case(
        "output name too long",
        ["run", "{cfg}", *DAY, "--output", "{tmp}/" + "a" * 300 + ".json"],
        2,
        ("cannot write", "too long"),
        DEMO,
    ),
    Case(
        "controllers dir name too long",
        ["run", "{cfg}", *DAY, "--controllers-dir", "{tmp}/" + "a" * 300],
        2,
        ("controllers directory", "cannot be read"),
        DEMO,
    ),
    Case(
        "data dir name too long",
        ["data", "list", "--data-dir", "{tmp}/" + "a" * 300],
        3,
        ("cannot read the store",),
    ),
    Case(
        "import file name too long",
        [
            "data",
            "import",
            "{tmp}/" + "a" * 300 + ".csv",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        3,
        ("cannot read",),
    ),
    Case(
        "controller_name missing",
        ["run", "{cfg}", *DAY],
        2,
        ("controller_name is missing; set it to one of:",),
        "connector_name: demo\ntrading_pair: BTC-USDT\n",
    ),
    Case(
        "unknown controller",
        ["run", "{cfg}", *DAY],
        2,
        ("unknown controller_name 'pmm_simpel'", "did you mean 'pmm_simple'"),
        demo("controller_name: pmm_simpel"),
    ),
    Case(
        "bad candle interval",
        ["run", "{cfg}", *DAY],
        2,
        ("invalid interval '7x'",),
        "controller_name: pmm_dynamic\nconnector_name: demo\ntrading_pair: BTC-USDT\ninterval: 7x\n",
    ),
    Case(
        "dman_maker_v2 default dca_amounts",
        ["run", "{cfg}", *DAY],
        2,
        ("was not given, so Hummingbot's default", "dca_spreads has 2 levels"),
        "controller_name: dman_maker_v2\nconnector_name: demo\ntrading_pair: BTC-USDT\n"
        "dca_spreads: 0.01,0.02\n",
    ),
    # --- config files ------------------------------------------------------------------------
    Case(
        "not UTF-8",
        ["run", "{cfg}", *DAY],
        2,
        ("not UTF-8 text", "save it as UTF-8"),
        DEMO.encode() + "id: caf\xe9\n".encode("latin-1"),
    ),
    Case("not YAML", ["run", "{cfg}", *DAY], 2, ("not valid YAML",), "a: [1,\n"),
    Case("not a mapping", ["run", "{cfg}", *DAY], 2, ("expected a mapping",), "- 1\n- 2\n"),
    Case(
        "YAML alias bomb",
        ["run", "{cfg}", *DAY],
        2,
        ("each use of a YAML alias counted",),
        DEMO
        + "junk: &a0 [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"junk{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)),
    ),
    Case(
        "recursive alias",
        ["run", "{cfg}", *DAY],
        2,
        ("refers to itself",),
        DEMO + "junk: &x [1, *x]\n",
    ),
    Case("missing config file", ["run", "{tmp}/nope.yml", *DAY], 2, ("cannot read config file",)),
    Case("config is a directory", ["run", "{tmp}", *DAY], 2, ("is a directory",)),
    # --- run options ---------------------------------------------------------------------------
    Case(
        "end far in the future",
        ["run", "{cfg}", "--start", "2024-01-08", "--end", "99999999999999999"],
        2,
        ("--end: 99999999999999999 is no epoch timestamp",),
        DEMO,
    ),
    Case(
        "year 2255",
        ["run", "{cfg}", "--start", "2024-01-08", "--end", "2255-01-01"],
        2,
        ("outside 1970-01-01",),
        DEMO,
    ),
    Case(
        "huge start",
        ["run", "{cfg}", "--start", str(10**40), "--end", "2024-01-09"],
        2,
        ("--start",),
        DEMO,
    ),
    Case(
        "huge resolution",
        ["run", "{cfg}", *DAY, "--resolution", "99999999999999m"],
        2,
        ("--resolution: invalid interval",),
        DEMO,
    ),
    Case(
        "unknown fill model",
        ["run", "{cfg}", *DAY, "--fill-model", "touhc"],
        2,
        ("did you mean 'touch'",),
        DEMO,
    ),
    Case(
        "nan trade cost",
        ["run", "{cfg}", *DAY, "--trade-cost", "nan"],
        2,
        ("--trade-cost = nan",),
        DEMO,
    ),
    Case(
        "end before start",
        ["run", "{cfg}", "--start", "2024-01-09", "--end", "2024-01-08"],
        2,
        ("must be before end",),
        DEMO,
    ),
    Case(
        "window outside demo",
        ["run", "{cfg}", "--start", "2023-01-01", "--end", "2023-01-02"],
        3,
        ("demo connector", "lies outside it"),
        DEMO,
    ),
    Case(
        "stdout with parquet",
        ["run", "{cfg}", *DAY, "--output", "-", "--format", "parquet"],
        2,
        ("cannot go to stdout",),
        DEMO,
    ),
    # --- output --------------------------------------------------------------------------------
    Case(
        "output is a directory",
        ["run", "{cfg}", *DAY, "--output", "{tmp}"],
        2,
        ("directory",),
        DEMO,
    ),
    Case(
        "output under a file",
        ["run", "{cfg}", *DAY, "--output", "{cfg}/result.json"],
        2,
        ("result.json",),
        DEMO,
    ),
    Case(
        "output disk full", ["run", "{cfg}", *DAY, "--output", "/dev/full"], 5, ("/dev/full",), DEMO
    ),
    # --- controller code (user plug-ins; tests/fixtures/hostile_controllers) -----------------
    Case(
        "compute_features returns None",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        (
            "controller 'bad_features_mm'",
            "bad_features_mm.py:",
            "returned None; expected a FeatureTable(",
        ),
        plugin("bad_features_mm", "none"),
    ),
    Case(
        "no reference_price",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("returned no 'reference_price' column",),
        plugin("bad_features_mm", "no_reference_price"),
    ),
    Case(
        "column of strings",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("not numeric; expected numbers",),
        plugin("bad_features_mm", "strings"),
    ),
    Case(
        "column of wrong length",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("expected a 1-D array with one value per row of ts",),
        plugin("bad_features_mm", "wrong_length"),
    ),
    Case(
        "unsorted feature timestamps",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("returned an unsorted timestamp",),
        plugin("bad_features_mm", "unsorted"),
    ),
    Case(
        "duplicate feature timestamps",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("returned a duplicate timestamp",),
        plugin("bad_features_mm", "duplicate"),
    ),
    Case(
        "sys.exit in compute_features",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("failed in compute_features", "SystemExit(0)", "cannot end a backtest"),
        plugin("bad_features_mm", "exit"),
    ),
    Case(
        "sys.exit in candles_configs",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("failed in candles_configs", "SystemExit"),
        plugin("bad_features_mm", "exit_in_candles_configs"),
    ),
    Case(
        "candles_configs returns [5]",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("expected a list of CandlesConfig",),
        plugin("bad_features_mm", "bad_candles_configs"),
    ),
    Case(
        "endless loop in compute_features",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("took longer than 1 s in compute_features", "HBBACKTEST_CONTROLLER_TIMEOUT"),
        plugin("bad_features_mm", "hang"),
        env=FAST_TIMEOUT,
    ),
    Case(
        "endless sleep in compute_features",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("took longer than 1 s",),
        plugin("bad_features_mm", "sleep"),
        env=FAST_TIMEOUT,
    ),
    Case(
        "loop that swallows the time limit",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("took longer than 1 s",),
        plugin("bad_features_mm", "swallow"),
        env=FAST_TIMEOUT,
    ),
    Case(
        "sys.exit at import",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("exits_at_import.py", "SystemExit(0)"),
        plugin("exits_at_import"),
    ),
    Case(
        "endless loop at import",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("took longer than 1 s in import", "hangs_at_import.py"),
        plugin("hangs_at_import"),
        env=FAST_TIMEOUT,
    ),
    Case(
        "directional without signal",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("returned no 'signal' column",),
        demo("controller_name: no_signal"),
    ),
    Case(
        "Hummingbot file: actions not a list",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("determine_executor_actions (defined at", "returned int 5"),
        plugin("hb_hostile", "returns_int"),
    ),
    Case(
        "Hummingbot file: processed_data None",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("left processed_data = None; expected a dict",),
        plugin("hb_hostile", "processed_none"),
    ),
    Case(
        "Hummingbot file: endless loop",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE],
        4,
        ("took longer than 1 s in the bar loop",),
        plugin("hb_hostile", "hang"),
        env=FAST_TIMEOUT,
    ),
    Case(
        "built-in runs beside hostile files",
        ["run", "{cfg}", *DAY, "--controllers-dir", HOSTILE, "--output", "{tmp}/ok.json"],
        0,
        ("result written to",),
        DEMO,
        env=FAST_TIMEOUT,
    ),
    Case(
        "broken user file shadowing a built-in",
        ["run", "{cfg}", *DAY, "--controllers-dir", "{tmp}/mine"],
        4,
        ("pmm_simple.py", "RuntimeError: my bug"),
        DEMO,
        setup=user_pmm_simple_broken,
    ),
    Case(
        "hanging user file, built-in named",
        ["run", "{cfg}", *DAY, "--controllers-dir", "{tmp}/mine", "--output", "-"],
        0,
        ('"run_id"',),
        DEMO,
        setup=user_dir_with_hang,
    ),
    Case(
        "controllers list with hostile files",
        ["controllers", "list", "--controllers-dir", HOSTILE],
        0,
        ("BROKEN", "exits_at_import", "hangs_at_import", "took longer than 1 s", "pmm_simple"),
        env=FAST_TIMEOUT,
    ),
    Case(
        "missing controllers dir",
        ["run", "{cfg}", *DAY, "--controllers-dir", "{tmp}/nowhere"],
        2,
        ("controllers directory", "does not exist"),
        DEMO,
    ),
    Case(
        "bad timeout setting",
        ["run", "{cfg}", *DAY],
        2,
        ("HBBACKTEST_CONTROLLER_TIMEOUT = 'abc'",),
        DEMO,
        env={"HBBACKTEST_CONTROLLER_TIMEOUT": "abc"},
    ),
    # --- candle import and the store ------------------------------------------------------------
    Case(
        "import epoch-us CSV",
        ["data", "list"],
        0,
        ("binance", "2024-01-01 00:00:00", "30 rows"),
        setup=import_microseconds,
    ),
    Case(
        "import mixed time units",
        [
            "data",
            "import",
            "{tmp}/mixed.csv",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        3,
        ("mixed time units",),
        setup=lambda t: (t / "mixed.csv").write_text(
            "timestamp,open,high,low,close,volume\n1704067200,1,2,0.5,1,1\n1704067260000,1,2,0.5,1,1\n1704067320000,1,2,0.5,1,1\n"
        ),
    ),
    Case(
        "import 5m candles as 1m",
        [
            "data",
            "import",
            "{tmp}/five.csv",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        3,
        ("the candles are 5m apart", "use --interval 5m"),
        setup=write_csv("five.csv", step=300),
    ),
    Case(
        "import pair without dash",
        [
            "data",
            "import",
            "{tmp}/good.csv",
            "--connector",
            "binance",
            "--pair",
            "BTCUSDT",
            "--interval",
            "1m",
        ],
        2,
        ("BTC-USDT",),
        setup=write_csv("good.csv"),
    ),
    Case(
        "import 10,000-char pair",
        [
            "data",
            "import",
            "{tmp}/good.csv",
            "--connector",
            "binance",
            "--pair",
            "A-" + "B" * 10_000,
            "--interval",
            "1m",
        ],
        2,
        ("10002 characters",),
        setup=write_csv("good.csv"),
    ),
    Case(
        "import connector path",
        [
            "data",
            "import",
            "{tmp}/good.csv",
            "--connector",
            "../x",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        2,
        ("invalid connector",),
        setup=write_csv("good.csv"),
    ),
    Case(
        "import a directory",
        [
            "data",
            "import",
            "{tmp}",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        3,
        ("is a directory",),
    ),
    Case(
        "import into a corrupt dataset",
        [
            "data",
            "import",
            "{tmp}/fresh.csv",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        3,
        ("is corrupt", "--replace"),
        setup=corrupt_store,
        check=store_unchanged,
    ),
    Case(
        "replace a corrupt dataset",
        [
            "data",
            "import",
            "{tmp}/fresh.csv",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
            "--replace",
        ],
        0,
        ("30 candles",),
        setup=corrupt_store,
    ),
    Case(
        "list with a corrupt dataset",
        ["data", "list"],
        0,
        ("CORRUPT", "--replace"),
        setup=corrupt_store,
    ),
    Case(
        "run on a corrupt dataset",
        ["run", "{cfg}", *DAY],
        3,
        ("cannot read the stored candles", "--replace"),
        demo("connector_name: binance"),
        setup=corrupt_store,
    ),
    # --- market data: fetching, offline, settings, price source ---------------------------------
    Case(
        "exchange URLs not JSON",
        ["run", "{cfg}", *DAY],
        2,
        ("HBBACKTEST_EXCHANGE_URLS is not valid JSON",),
        DEMO,
        env={"HBBACKTEST_EXCHANGE_URLS": "{{binance: x"},
    ),
    Case(
        "exchange URL not http",
        ["run", "{cfg}", *DAY],
        2,
        ("'binance' → 'ftp://x'", "http(s) base URL"),
        DEMO,
        env={"HBBACKTEST_EXCHANGE_URLS": '{{"binance": "ftp://x"}}'},
    ),
    Case(
        "exchange URL for an unknown connector",
        ["run", "{cfg}", *DAY],
        2,
        ("unknown connector 'binanse'", "did you mean 'binance'"),
        DEMO,
        env={"HBBACKTEST_EXCHANGE_URLS": '{{"binanse": "http://127.0.0.1:9"}}'},
    ),
    Case(
        "offline flag not a boolean",
        ["run", "{cfg}", *DAY],
        2,
        ("HBBACKTEST_OFFLINE = 'maybe'",),
        DEMO,
        env={"HBBACKTEST_OFFLINE": "maybe"},
    ),
    Case(
        "settings file with an unknown key",
        ["run", "{cfg}", *DAY],
        2,
        ("unknown key 'ofline'", "did you mean 'offline'"),
        DEMO,
        setup=lambda t: (t / "settings.yml").write_text("ofline: true\n"),
        env={"HBBACKTEST_SETTINGS": "{tmp}/settings.yml"},
    ),
    Case(
        "offline run with an empty cache",
        ["run", "{cfg}", *DAY, "--offline"],
        3,
        ("offline: the cache lacks binance BTC-USDT 1m candles", "hbbacktest data fetch"),
        demo("connector_name: binance"),
    ),
    Case(
        "run on a venue without exchange source",
        ["run", "{cfg}", *DAY],
        3,
        ("xrpl has no exchange source", "--candles-connector"),
        demo("connector_name: xrpl\ntrading_pair: XRP-USD"),
    ),
    Case(
        "price source pair malformed",
        ["run", "{cfg}", *DAY, "--candles-connector", "demo", "--candles-pair", "BTCUSDT"],
        2,
        ("candles_trading_pair", "BTC-USDT"),
        DEMO,
    ),
    Case(
        "price source from the demo connector",
        ["run", "{cfg}", *DAY, "--candles-connector", "demo", "--output", "-"],
        0,
        ("prices from demo BTC-USDT while trading xrpl BTC-USDT",),
        demo("connector_name: xrpl"),
    ),
    Case(
        "fetch from a connector without exchange source",
        [
            "data",
            "fetch",
            "--connector",
            "binanse",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
        ],
        2,
        ("no exchange source for connector 'binanse'", "did you mean 'binance'"),
    ),
    Case(
        "fetch while offline",
        [
            "data",
            "fetch",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
        ],
        2,
        ("offline mode is on",),
    ),
    Case(
        "fetch with start after end",
        [
            "data",
            "fetch",
            "--connector",
            "binance",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
            "--start",
            "2024-01-02",
            "--end",
            "2024-01-01",
        ],
        2,
        ("--start (2024-01-02 00:00:00) must not be after --end",),
    ),
    Case(
        "import with an unknown format",
        [
            "data",
            "import",
            "{tmp}/good.csv",
            "--connector",
            "binance",
            "--format",
            "xlsx",
            "--pair",
            "BTC-USDT",
            "--interval",
            "1m",
        ],
        2,
        ("xlsx", "binance-vision"),
        setup=write_csv("good.csv"),
    ),
    Case(
        "import without a pair the file name could give",
        ["data", "import", "{tmp}/good.csv", "--connector", "binance", "--interval", "1m"],
        2,
        ("the file name does not say the trading pair", "--pair"),
        setup=write_csv("good.csv"),
    ),
    # --- the HTTP API (each refused before anything binds) -----------------------------------
    Case(
        "serve a public address without credentials",
        ["serve", "--host", "0.0.0.0"],
        2,
        ("without credentials", "HBBACKTEST_API_PASSWORD", "--insecure"),
    ),
    Case(
        "serve a public address with admin/admin",
        ["serve", "--host", "::"],
        2,
        ("admin/admin", "--insecure"),
        env={"HBBACKTEST_API_USERNAME": "admin", "HBBACKTEST_API_PASSWORD": "admin"},
    ),
    Case(
        "serve with a username and no password",
        ["serve"],
        2,
        ("HBBACKTEST_API_PASSWORD is not set",),
        env={"HBBACKTEST_API_USERNAME": "me"},
    ),
    Case(
        "serve with a queue of zero",
        ["serve"],
        2,
        ("HBBACKTEST_MAX_QUEUE = '0'", "integer >= 1"),
        env={"HBBACKTEST_MAX_QUEUE": "0"},
    ),
    Case(
        "serve with a negative task timeout",
        ["serve"],
        2,
        ("HBBACKTEST_TASK_TIMEOUT = '-5'", "0 for no limit"),
        env={"HBBACKTEST_TASK_TIMEOUT": "-5"},
    ),
    Case(
        "serve with a retention that is not days",
        ["serve"],
        2,
        ("HBBACKTEST_RESULT_RETENTION_DAYS = 'forever'",),
        env={"HBBACKTEST_RESULT_RETENTION_DAYS": "forever"},
    ),
    Case(
        "serve with an unknown log level",
        ["serve", "--log-level", "loud"],
        2,
        ("--log-level 'loud'",),
    ),
    Case(
        "report of a file that is not a result",
        ["report", "{cfg}"],
        2,
        ("config.yml is not a JSON result file", "hbbacktest run --output"),
        DEMO,
    ),
    Case(
        "report to a path under a regular file",
        ["report", "{tmp}/r.json", "-o", "{tmp}/file/report.html"],
        5,
        ("cannot write", "file/report.html", "a parent is not a directory"),
        setup=demo_result,
    ),
    Case(
        "verify a corrupt cache",
        ["data", "verify"],
        3,
        ("CORRUPT", "BTC-USDT_1m.parquet", "1 of 1 dataset(s)"),
        setup=corrupt_store,
    ),
]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("HBBACKTEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HBBACKTEST_CONTROLLERS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(
    case: Case, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.yml"
    if case.config is not None:
        if isinstance(case.config, bytes):
            cfg.write_bytes(case.config)
        else:
            cfg.write_text(case.config, encoding="utf-8")
    if case.setup is not None:
        case.setup(tmp_path)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value.format(tmp=tmp_path))
    args = [a.format(tmp=tmp_path, cfg=cfg) for a in case.args]
    result = runner.invoke(app, args)
    output = result.output
    assert result.exit_code == case.code, output
    assert "Traceback" not in output
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(
        result.exception
    )
    for fragment in case.fragments:
        assert fragment in output, f"{fragment!r} not in:\n{output}"
    if case.code != 0:
        assert output.count("error: ") >= 1
        assert not list((tmp_path / "out").glob("*.json")) if (tmp_path / "out").exists() else True
    if case.check is not None:
        case.check(tmp_path)


def test_catalogue_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
