"""A local Parquet candle store: one file per (connector, trading pair, interval).

Layout: ``<data_dir>/candles/<connector>/<BASE-QUOTE>_<interval>.parquet`` with columns
``timestamp`` (int64 epoch seconds, candle open time) and OHLCV floats.

Safety rules, each for a failure seen in the field:

* **Validate, then write.** An import checks the file, then the merged result, before it
  touches the store; a failed import leaves the stored file byte-identical.
* **Atomic writes.** Data goes to ``.<file name>.<pid>.tmp`` next to the target, is fsynced
  and renamed over it, so a crash (even ``kill -9``) never leaves a half-written file. Stale
  temporaries of a dataset are removed by its next writer, under the lock.
* **One writer per dataset.** Writers hold ``fcntl.flock`` on ``.<file name>.lock`` across
  read, merge, write and rename: concurrent imports of overlapping slices lose no row.
  Readers need no lock (rename is atomic). The lock file stays: deleting it would race.
* **Corrupt files are reported, not fatal.** :meth:`CandleStore.series` lists them with the
  reason; ``import_file(..., replace=True)`` overwrites them.

pandas and pyarrow are imported inside the methods that need them, so importing this module
(and listing the store) stays cheap; :meth:`CandleStore.series` reads only Parquet metadata.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import re
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hbbacktest.core.errors import (
    ConfigError,
    DataError,
    DataMissingError,
    DatasetCorruptError,
    OutputError,
)
from hbbacktest.core.time import interval_to_seconds
from hbbacktest.data.candles import COLUMNS, Candles
from hbbacktest.data.convert import (
    MAX_TS_S,
    MIN_TS_S,
    check_interval,
    interval_name,
    normalize_frame,
    resample,
    validate_candles,
)
from hbbacktest.data.coverage import Range, merge_ranges, ranges_from_json, ranges_to_json

if TYPE_CHECKING:
    import pandas as pd

#: Longest connector or trading pair accepted (file names must stay far below 255 bytes).
NAME_MAX = 64
_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")
_PAIR = re.compile(r"^[A-Z0-9.]+-[A-Z0-9.]+$")
_PAIR_PARTS = re.compile(r"^([A-Z0-9.]+)[_/:]([A-Z0-9.]+)$")
# Quote currencies to split a pair written without separator (BTCUSDT → BTC-USDT); longest first.
_QUOTES = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "GBP", "TRY", "BRL",
    "JPY", "DAI", "BTC", "ETH", "BNB",
)  # fmt: skip
_STORED_COLUMNS = ("timestamp", *COLUMNS)
_COVERAGE_KEY = b"hbbacktest.coverage"
_LEGACY_TMP_AGE_S = 3600  # mkstemp temporaries of older versions: no writer runs that long
_FAR = 2**62


@dataclass(frozen=True)
class StoredSeries:
    """What the store holds for one market and interval.

    Attributes:
        connector: the connector folder, e.g. ``binance``.
        trading_pair: ``BASE-QUOTE`` as in the file name.
        interval: as in the file name, e.g. ``1m``.
        first_ts: open time of the first candle (epoch s); None when ``problem`` is set.
        last_ts: open time of the last candle (epoch s); None when ``problem`` is set.
        rows: number of candles (0 when unreadable).
        file: absolute path of the Parquet file.
        problem: why the file cannot be used (corrupt, truncated, misnamed), or None.
        fix: how to repair it (the ``--replace`` import command), or None when healthy.
        coverage: the ranges of open times asked for (fetched or imported), merged; a
            missing candle inside them is a real gap, outside them a hole never asked for.
        size_bytes: the file's size.
    """

    connector: str
    trading_pair: str
    interval: str
    first_ts: int | None
    last_ts: int | None
    rows: int
    file: Path
    problem: str | None = None
    fix: str | None = None
    coverage: tuple[Range, ...] = ()
    size_bytes: int = field(default=0, compare=False)

    @property
    def corrupt(self) -> bool:
        """True when the dataset cannot be loaded (see ``problem``)."""
        return self.problem is not None


@dataclass(frozen=True)
class Gap:
    """Missing candles between two stored ones.

    Attributes:
        after_ts: open time of the last candle before the gap (epoch s).
        missing: number of candles missing.
        interval_s: candle interval in seconds.
    """

    after_ts: int
    missing: int
    interval_s: int

    @property
    def from_ts(self) -> int:
        """Open time of the first missing candle (epoch s)."""
        return self.after_ts + self.interval_s

    @property
    def to_ts(self) -> int:
        """Open time of the last missing candle (epoch s)."""
        return self.after_ts + self.missing * self.interval_s


@dataclass(frozen=True)
class ImportReport:
    """What an import did, for the caller to print.

    Attributes:
        path: absolute path of the stored file.
        rows_read: candles in the imported file.
        rows_added: candles at timestamps the store did not have before.
        rows_replaced: stored candles overwritten by the file's (same timestamp).
        rows_total: candles the dataset holds afterwards.
        first_ts: open time of its first candle (epoch s).
        last_ts: open time of its last candle (epoch s).
        gaps: number of gaps in the dataset afterwards.
        missing_candles: candles missing in those gaps, in total.
        largest_gap: the largest gap, or None when there is none.
        replaced: True when ``replace=True`` discarded what was stored before.
        trading_pair: the pair imported as (given, or from the file name).
        interval: the interval imported as.
        format: the file format read.
        notes: things to tell the user (a file name that names another pair …).
    """

    path: Path
    rows_read: int
    rows_added: int
    rows_replaced: int
    rows_total: int
    first_ts: int
    last_ts: int
    gaps: int
    missing_candles: int
    largest_gap: Gap | None
    replaced: bool = False
    trading_pair: str = ""
    interval: str = ""
    format: str = ""
    notes: tuple[str, ...] = ()


class _Corrupt(Exception):
    """A stored file cannot be used; never leaves this module (callers word the DataError)."""


def _shown(value: str) -> str:
    # A 10,000-character name must not become a 10,000-character message.
    return repr(value) if len(value) <= 40 else f"{value[:40]!r}… ({len(value)} characters)"


def _check_name(value: str, what: str) -> str:
    if len(value) > NAME_MAX:
        raise ConfigError(f"invalid {what} {_shown(value)}: at most {NAME_MAX} characters")
    if not _SAFE.match(value) or value.startswith("."):
        raise ConfigError(
            f"invalid {what} {_shown(value)}: use letters, digits, '-', '_' or '.' (not first)"
        )
    return value


def canonical_interval(interval: str) -> str:
    """The one name of an interval in file names: ``60s`` and ``1m`` are the same series.

    Raises:
        ConfigError: not an interval.

    Example:
        >>> canonical_interval("60s"), canonical_interval("1h")
        ('1m', '1h')
    """
    return interval_name(interval_to_seconds(interval))


def check_trading_pair(trading_pair: str) -> str:
    """Return the pair upper-cased if it is Hummingbot's ``BASE-QUOTE``, else raise.

    Args:
        trading_pair: e.g. ``btc-usdt``.

    Raises:
        ConfigError: for a pair without exactly one ``-`` between base and quote, saying
            which name to use (``BTCUSDT`` → ``BTC-USDT``).

    Example:
        >>> check_trading_pair("btc-usdt")
        'BTC-USDT'
    """
    pair = trading_pair.strip().upper()
    if len(pair) > NAME_MAX:
        _check_name(pair, "trading pair")  # raises: the length is the problem to report
    if _PAIR.match(pair):
        return pair
    parts = _PAIR_PARTS.match(pair)
    suggestion = f"{parts.group(1)}-{parts.group(2)}" if parts else None
    if suggestion is None and "-" not in pair:
        quote = next((q for q in _QUOTES if pair.endswith(q) and len(pair) > len(q)), None)
        suggestion = f"{pair[: -len(quote)]}-{quote}" if quote else None
    advice = f"use {suggestion!r}" if suggestion else "e.g. 'BTC-USDT'"
    raise ConfigError(
        f"invalid trading pair {_shown(trading_pair)}: Hummingbot names pairs BASE-QUOTE with "
        f"one '-' ({advice})"
    )


def _fix_command(connector: str, pair: str, interval: str, file: str | None = None) -> str:
    return (
        f"hbbacktest data import {shlex.quote(file) if file else 'FILE'} --connector {connector} "
        f"--pair {pair} --interval {interval} --replace"
    )


def _arrow_errors() -> tuple[type[BaseException], ...]:
    import pyarrow as pa

    return (OSError, ValueError, TypeError, NotImplementedError, pa.ArrowException)


class DatasetUpdate:
    """One dataset opened for writing under its lock (see :meth:`CandleStore.updating`).

    Attributes:
        path: the dataset's file.
        candles: what the dataset holds now (committed pages included).
        coverage: the ranges asked for so far, merged.
        set_aside: where a corrupt file was moved, or None.
        problem: why that file was corrupt, or None.
    """

    def __init__(
        self,
        path: Path,
        candles: Candles,
        coverage: list[Range],
        *,
        aside: Path | None,
        problem: str | None,
    ) -> None:
        self.path = path
        self.candles = candles
        self.coverage = coverage
        self.set_aside = aside
        self.problem = problem
        self._pending: list[Candles] = []
        self._pending_ranges: list[Range] = []

    @property
    def pending_rows(self) -> int:
        """Candles added since the last commit."""
        return sum(len(c) for c in self._pending)

    def add(self, candles: Candles, asked: Range) -> None:
        """Queue candles and the range they answer (``asked``, inclusive open times).

        Raises:
            DataError: the candles are invalid or lie outside ``asked`` (nothing is queued).
        """
        source = f"candles for {self.path.absolute()}"
        if len(candles):
            validate_candles(
                candles.ts,
                candles.open,
                candles.high,
                candles.low,
                candles.close,
                candles.volume,
                source=source,
            )
            if candles.ts[0] < asked[0] or candles.ts[-1] > asked[1]:
                raise DataError(f"{source}: candles outside the range they answer")
        self._pending.append(candles)
        self._pending_ranges.append(asked)

    def commit(self) -> None:
        """Write what was added (candles and coverage) atomically; a no-op when nothing was.

        Raises:
            DataError: the merged dataset breaks the interval's spacing (nothing written).
            OutputError: the file cannot be written (the stored one is unchanged).
        """
        if not self._pending_ranges:
            return
        merged = self.candles
        for page in self._pending:
            if len(page):
                merged = _merge(merged, page)
        coverage = merge_ranges([*self.coverage, *self._pending_ranges], merged.interval_s)
        if len(merged):
            check_interval(
                merged.ts,
                canonical_interval(self.path.stem.rpartition("_")[2]),
                merged.interval_s,
                source=str(self.path.absolute()),
                spacing=False,
            )
        # Written also without candles: "asked, nothing there" must not be asked again.
        _write_atomic(self.path, merged, coverage)
        self.candles, self.coverage = merged, coverage
        self._pending, self._pending_ranges = [], []


class CandleStore:
    """Parquet candle files under ``data_dir`` (see the module docstring for the layout).

    Args:
        data_dir: the store root; files live under ``<data_dir>/candles``.
        lock_timeout_s: how long a writer waits for another writer of the same dataset
            before giving up with a DataError (default 300 s).

    Example:
        >>> store = CandleStore("data")
        >>> store.path("binance", "btc-usdt", "1m").name
        'BTC-USDT_1m.parquet'
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, lock_timeout_s: float = 300.0) -> None:
        self.data_dir = Path(data_dir)
        self.lock_timeout_s = lock_timeout_s

    def path(self, connector: str, trading_pair: str, interval: str) -> Path:
        """The file that holds one series (relative when ``data_dir`` is).

        Raises:
            ConfigError: for an invalid interval, or a connector or pair that is empty, too
                long or holds characters other than letters, digits, ``-``, ``_``, ``.``.
        """
        step = interval_to_seconds(interval)
        canonical = interval_name(step)
        connector = _check_name(connector, "connector")
        pair = _check_name(trading_pair.upper(), "trading pair")
        folder = self.data_dir / "candles" / connector
        target = folder / f"{pair}_{canonical}.parquet"
        if not target.exists():
            # A series stored under another name of the interval (60s, 60m) before names
            # were made canonical is still found.
            with contextlib.suppress(OSError):
                for other in folder.glob(f"{pair}_*.parquet"):
                    name = other.stem[len(pair) + 1 :]
                    if name != canonical and _seconds_or_none(name) == step:
                        return other
        return target

    # --- writing ---------------------------------------------------------------------------

    def write(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        frame: pd.DataFrame,
        *,
        replace: bool = False,
    ) -> int:
        """Merge clean candles into the store; rows at existing timestamps are replaced.

        Args:
            connector: e.g. ``binance``.
            trading_pair: ``BASE-QUOTE``.
            interval: e.g. ``1m``; the candles must be aligned on it and spaced by it.
            frame: ``timestamp`` (epoch s) and OHLCV columns, sorted and valid.
            replace: discard what is stored instead of merging (also repairs a corrupt file).

        Returns:
            The number of rows the series holds afterwards.

        Raises:
            ConfigError: invalid names or interval.
            DataError: invalid candles, or a corrupt stored file without ``replace``.
            OutputError: the file could not be written (the stored one is unchanged).
        """
        candles = Candles.from_frame(frame, interval_to_seconds(interval))
        target = self.path(connector, check_trading_pair(trading_pair), interval)
        return self._commit(
            target, candles, interval, source=f"candles for {target.absolute()}", replace=replace
        ).rows_total

    def import_file(
        self,
        file: str | os.PathLike[str],
        connector: str,
        trading_pair: str | None = None,
        interval: str | None = None,
        *,
        replace: bool = False,
        format: str = "auto",
    ) -> ImportReport:
        """Read a candle file, validate it and merge it into the store.

        Everything is checked before the store is touched: the file (columns, time unit,
        prices, order, alignment on the interval and spacing), then the merged result.

        Args:
            file: candles in one of :data:`hbbacktest.data.sources.importers.FORMATS`: CSV or
                Parquet (see :func:`hbbacktest.data.normalize_frame` for the accepted columns
                and times), Binance Data Vision kline zip/CSV (spot or futures, ms or µs),
                freqtrade JSON (``.json``/``.json.gz``) or feather.
            connector: e.g. ``binance``.
            trading_pair: Hummingbot's ``BASE-QUOTE``, e.g. ``BTC-USDT``; None takes it from a
                file name that says it (``BTCUSDT-1m-2024-01.zip``, ``BTC_USDT-1m.json``).
            interval: the candles' interval, e.g. ``1m``; None takes it from the file name.
            replace: discard what is stored for this dataset instead of merging; the way to
                repair a corrupt file.
            format: one of ``FORMATS``; ``auto`` (default) detects it.

        Returns:
            An :class:`ImportReport` (rows added, range, gaps, absolute path, notes).

        Raises:
            ConfigError: invalid connector, pair (``BTCUSDT``), interval or format, or a pair or
                interval neither given nor in the file name.
            DataError: the file cannot be read or its candles are invalid, the interval does
                not match their spacing, or the stored file is corrupt and ``replace`` is off;
                the message says why, where and how to fix it.
            OutputError: the store could not be written (the stored file is unchanged).

        Example:
            >>> store = CandleStore("data")
            >>> report = store.import_file("btc.csv", "binance", "BTC-USDT", "1m")  # doctest: +SKIP
            >>> report.rows_total  # doctest: +SKIP
            1440
        """
        from hbbacktest.data.sources.importers import FORMATS, read_candle_file

        if format not in FORMATS:
            read_candle_file(file, format=format)  # raises the ConfigError listing FORMATS
        _check_name(connector, "connector")
        if trading_pair is not None:
            trading_pair = check_trading_pair(trading_pair)
        if interval is not None:
            interval_to_seconds(interval)
        path = Path(file)
        imported = read_candle_file(path, format=format)
        notes = []
        if trading_pair is None:
            if imported.trading_pair is None:
                raise ConfigError(
                    f"{path}: the file name does not say the trading pair; give it with --pair "
                    "BASE-QUOTE"
                )
            trading_pair = imported.trading_pair
        elif imported.trading_pair and imported.trading_pair != trading_pair:
            notes.append(
                f"the file name says {imported.trading_pair}, imported as {trading_pair} as asked"
            )
        perpetual = connector.endswith("_perpetual")
        if imported.market is not None and (imported.market == "futures") != perpetual:
            notes.append(
                f"the file holds {imported.market} candles, imported for the "
                f"{'perpetual' if perpetual else 'spot'} connector {connector} as asked"
            )
        if interval is None:
            if imported.interval is None:
                raise ConfigError(
                    f"{path}: the file name does not say the interval; give it with --interval"
                )
            interval = imported.interval
        pair = check_trading_pair(trading_pair)
        step = interval_to_seconds(interval)
        target = self.path(connector, pair, interval)
        frame = normalize_frame(imported.frame, source=str(path))
        report = self._commit(
            target,
            Candles.from_frame(frame, step),
            canonical_interval(interval),
            source=str(path),
            replace=replace,
            file=str(path),
        )
        return dataclasses.replace(
            report,
            trading_pair=pair,
            interval=canonical_interval(interval),
            format=imported.format,
            notes=tuple(notes),
        )

    def _commit(
        self,
        target: Path,
        new: Candles,
        interval: str,
        *,
        source: str,
        replace: bool,
        file: str | None = None,
    ) -> ImportReport:
        """Merge ``new`` into ``target`` under the dataset lock; validate, then write.

        The new candles' span joins the dataset's coverage (an import is a range asked for).

        The checks of ``new`` run before the lock is taken and the folder created, so bad
        input leaves no trace at all; those of the merged result run under the lock.
        """
        validate_candles(new.ts, new.open, new.high, new.low, new.close, new.volume, source=source)
        check_interval(new.ts, interval, new.interval_s, source=source)
        absolute = target.absolute()
        connector, pair = target.parent.name, target.name.rpartition("_")[0]
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the store folder {absolute.parent}: {exc}") from exc
        with self._locked(target):
            self._remove_stale_temporaries(target)
            old = Candles.empty(new.interval_s)
            covered: list[Range] = []
            existed = target.exists()
            if existed and not replace:
                try:
                    old, covered = _read_dataset(target, new.interval_s)
                except _Corrupt as exc:
                    raise DataError(
                        f"{absolute} is corrupt ({exc}); nothing was imported and the file is "
                        "unchanged. To overwrite it with this file's candles, run again with "
                        f"--replace: {_fix_command(connector, pair, interval, file)}"
                    ) from None
            merged = _merge(old, new)
            merged_source = f"{absolute} merged with {source}"
            if len(old):
                # Both halves are valid; the union can still break the spacing rule when the
                # stored file predates the checks. Nothing is written if so.
                try:
                    validate_candles(
                        merged.ts,
                        merged.open,
                        merged.high,
                        merged.low,
                        merged.close,
                        merged.volume,
                        source=merged_source,
                    )
                    check_interval(merged.ts, interval, new.interval_s, source=merged_source)
                except DataError as exc:
                    raise DataError(
                        f"{exc}. The stored file is unchanged; --replace overwrites it"
                    ) from None
            span = [(int(new.ts[0]), int(new.ts[-1]))] if len(new) else []
            _write_atomic(target, merged, merge_ranges([*covered, *span], new.interval_s))
        gaps, missing = merged.gaps()
        largest = merged.largest_gap()
        rows_added = len(merged) - len(old)
        return ImportReport(
            path=absolute,
            rows_read=len(new),
            rows_added=rows_added,
            rows_replaced=len(new) - rows_added,
            rows_total=len(merged),
            first_ts=int(merged.ts[0]),
            last_ts=int(merged.ts[-1]),
            gaps=gaps,
            missing_candles=missing,
            largest_gap=None if largest is None else Gap(largest[0], largest[1], new.interval_s),
            replaced=replace and existed,
        )

    @contextlib.contextmanager
    def updating(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        *,
        lock_timeout_s: float | None = None,
    ) -> Iterator[DatasetUpdate]:
        """Hold one dataset's writer lock and yield a :class:`DatasetUpdate` to add pages to.

        What the update commits is durable at once (each commit is an atomic rewrite), so a
        fetch killed half-way keeps every committed page and its coverage. A corrupt stored
        file is set aside (renamed ``<name>.corrupt-<UTC time>``) and the dataset starts empty;
        ``DatasetUpdate.set_aside`` names it so the caller can warn.

        Args:
            connector: e.g. ``binance``.
            trading_pair: ``BASE-QUOTE``.
            interval: e.g. ``1m``.
            lock_timeout_s: how long to wait for another writer (a fetch of the same dataset
                in another process); default the store's ``lock_timeout_s``.

        Raises:
            ConfigError: invalid names; DataError: the lock wait timed out; OutputError: the
                store folder or lock file cannot be created.
        """
        step = interval_to_seconds(interval)
        target = self.path(connector, check_trading_pair(trading_pair), interval)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot create the store folder {target.parent.absolute()}: {exc}"
            ) from exc
        with self._locked(target, timeout_s=lock_timeout_s):
            self._remove_stale_temporaries(target)
            candles = Candles.empty(step)
            covered: list[Range] = []
            aside: Path | None = None
            problem: str | None = None
            if target.exists():
                try:
                    candles, covered = _read_dataset(target, step)
                except _Corrupt as exc:
                    _raise_if_io_error(exc, target)  # the file may be fine: not moved away
                    problem = str(exc)
                    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
                    aside = target.with_name(f"{target.name}.corrupt-{stamp}")
                    try:
                        os.replace(target, aside)
                    except OSError as err:
                        raise OutputError(
                            f"{target.absolute()} is corrupt ({exc}) and cannot be moved aside: "
                            f"{err}"
                        ) from err
            yield DatasetUpdate(target, candles, covered, aside=aside, problem=problem)

    @contextlib.contextmanager
    def _locked(self, target: Path, *, timeout_s: float | None = None) -> Iterator[None]:
        """Hold the dataset's writer lock (``.<file name>.lock``) for the ``with`` body."""
        lock_path = target.with_name(f".{target.name}.lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot create the lock file {lock_path.absolute()}: {exc}") from exc
        limit_s = self.lock_timeout_s if timeout_s is None else timeout_s
        try:
            deadline = time.monotonic() + limit_s
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    # Polled rather than blocking so a hung writer gives an error, not a hang.
                    if time.monotonic() >= deadline:
                        raise DataError(
                            f"{target.absolute()}: another process has been writing this dataset "
                            f"for over {limit_s:g} s (it holds {lock_path.absolute()});"
                            " wait for it to finish, or stop it, and try again"
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            yield
        finally:
            os.close(fd)  # releases the lock, also when the process dies

    @staticmethod
    def _remove_stale_temporaries(target: Path) -> None:
        """Remove temporaries a killed writer left; only called under the dataset lock."""
        # Under the lock no other writer of this dataset is running, so every temporary of it
        # is stale, whatever its pid.
        stale = list(target.parent.glob(f".{target.name}.*.tmp"))
        cutoff = time.time() - _LEGACY_TMP_AGE_S
        for legacy in target.parent.glob("tmp*.tmp"):
            with contextlib.suppress(OSError):
                if legacy.stat().st_mtime < cutoff:
                    stale.append(legacy)
        for path in stale:
            # Best effort: a leftover that cannot be removed must not fail the import.
            with contextlib.suppress(OSError):
                path.unlink()

    # --- reading ---------------------------------------------------------------------------

    def series(self) -> list[StoredSeries]:
        """Every dataset in the store, corrupt ones included (``problem`` says why).

        Reads only Parquet metadata (row count, min/max statistics of ``timestamp``; the
        timestamp column itself when a writer left no statistics). Never raises for a bad
        file: one corrupt dataset must not hide the others.

        Example:
            >>> [s.trading_pair for s in CandleStore("data").series()]  # doctest: +SKIP
            ['BTC-USDT']
        """
        root = self.data_dir / "candles"
        try:
            files = sorted(root.glob("*/*.parquet"))
        except OSError as exc:
            raise DataError(f"cannot read the store {root}: {exc.strerror or exc}") from None
        return [_describe(file.absolute()) for file in files if not file.name.startswith(".")]

    def verify(self, entry: StoredSeries) -> str | None:
        """Read one dataset in full and check it; the problem found, or None when healthy.

        Checks what :meth:`series` cannot from metadata: every value (finite, positive prices,
        high ≥ low …), order and uniqueness, the spacing against the interval in the file
        name, and that every candle lies inside the recorded coverage.
        """
        if entry.problem is not None:
            return entry.problem
        try:
            step = interval_to_seconds(entry.interval)
            candles, covered = _read_dataset(entry.file, step)
            # Alignment only: a fetched illiquid market may have more gaps than candles.
            check_interval(candles.ts, entry.interval, step, source="the candles", spacing=False)
        except _Corrupt as exc:
            return str(exc)
        except (DataError, ConfigError) as exc:
            return str(exc)
        except _arrow_errors() as exc:
            return f"unreadable ({type(exc).__name__}: {exc})"
        outside = _outside(candles.ts, covered)
        if outside:
            return f"{outside} candle(s) lie outside the recorded coverage"
        return None

    def leftovers(self) -> list[Path]:
        """Corrupt files set aside (``*.corrupt-*``) and temporaries of killed writers.

        A temporary whose writer (the pid in its name) is still running is not listed.
        """
        root = self.data_dir / "candles"
        found: list[Path] = []
        with contextlib.suppress(OSError):
            found += sorted(root.glob("*/*.parquet.corrupt-*"))
            found += [p for p in sorted(root.glob("*/.*.tmp")) if not _writer_alive(p)]
        return [path.absolute() for path in found]

    def intervals(self, connector: str, trading_pair: str) -> list[str]:
        """Intervals stored for a market, finest first."""
        folder = self.path(connector, trading_pair, "1m").parent
        prefix = f"{trading_pair.upper()}_"
        names = [f.stem[len(prefix) :] for f in folder.glob(f"{prefix}*.parquet")]
        valid = []
        for name in names:
            try:
                valid.append((interval_to_seconds(name), name))
            except ConfigError:
                continue
        return [name for _, name in sorted(valid)]

    def coverage(self, connector: str, trading_pair: str, interval: str) -> list[Range] | None:
        """The ranges a dataset was asked for (fetched or imported); None when there is none.

        Reads only the file's metadata.

        Raises:
            DataError: the file is corrupt (names it and the command that replaces it).
        """
        import pyarrow.parquet as pq

        target = self.path(connector, trading_pair, interval)
        if not target.exists():
            return None
        step = interval_to_seconds(interval)
        pair, _, name = target.stem.rpartition("_")
        fix = f"Replace the file with: {_fix_command(target.parent.name, pair, name)}"
        try:
            schema = pq.read_schema(target)
            ranges = _record(schema.metadata)
        except (*_arrow_errors(), _Corrupt) as exc:  # type: ignore[misc]
            _raise_if_io_error(exc, target)
            raise DatasetCorruptError(
                f"{target.absolute()}: cannot read the stored candles: {exc}. {fix}"
            ) from None
        if ranges is not None:
            return merge_ranges(ranges, step)
        return _coverage_of(None, self._load_file(target, step))

    def finer_intervals(self, connector: str, trading_pair: str, interval: str) -> list[str]:
        """Stored intervals finer than ``interval`` that divide it (it can be resampled)."""
        step = interval_to_seconds(interval)
        return [
            name
            for name in self.intervals(connector, trading_pair)
            if interval_to_seconds(name) < step and step % interval_to_seconds(name) == 0
        ]

    def load(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        start: int | None = None,
        end: int | None = None,
    ) -> Candles:
        """Candles with open time in ``[start, end]``, resampled from a finer interval if needed.

        Raises:
            DataMissingError: when neither the interval nor a finer one that divides it is
                stored; the message lists what is stored and the import command.
            DataError: the stored file is corrupt; the message names it and the command
                that replaces it.
        """
        step = interval_to_seconds(interval)
        target = self.path(connector, trading_pair, interval)
        if target.exists():
            candles = self._load_file(target, step)
        else:
            finer = self.finer_intervals(connector, trading_pair, interval)
            if not finer:
                stored = self.intervals(connector, trading_pair)
                have = f"stored intervals: {', '.join(stored)}" if stored else "nothing is stored"
                raise DataMissingError(
                    f"no {interval} candles for {connector} {trading_pair.upper()} in "
                    f"{self.data_dir.absolute()} ({have}). Import them with: hbbacktest data "
                    f"import FILE --connector {connector} --pair {trading_pair.upper()} "
                    f"--interval {interval}"
                )
            source = finer[-1]
            source_step = interval_to_seconds(source)
            # Read whole buckets so the first resampled candle is complete.
            lo = -_FAR if start is None else start - start % step
            hi = _FAR if end is None else end + step - 1
            fine = self._load_file(self.path(connector, trading_pair, source), source_step)
            candles = resample(fine.between(lo, hi), step)
        if start is not None or end is not None:
            candles = candles.between(
                -_FAR if start is None else start, _FAR if end is None else end
            )
        return candles

    @staticmethod
    def _load_file(path: Path, step: int) -> Candles:
        try:
            return _read_dataset(path, step)[0]
        except _Corrupt as exc:
            _raise_if_io_error(exc, path)
            pair, _, interval = path.stem.rpartition("_")
            raise DatasetCorruptError(
                f"{path.absolute()}: cannot read the stored candles: {exc}. Replace the file "
                f"with: {_fix_command(path.parent.name, pair, interval)}"
            ) from None


def _read_dataset(path: Path, step: int) -> tuple[Candles, list[Range]]:
    """A stored file's candles, checked like an import, and its coverage; raises _Corrupt.

    Files written before coverage was recorded cover their first to last candle.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as parquet:
            schema = parquet.schema_arrow
            names = schema.names
            missing = [c for c in _STORED_COLUMNS if c not in names]
            if missing:
                raise _Corrupt(f"the file lacks column(s) {', '.join(missing)}")
            table = parquet.read(columns=list(_STORED_COLUMNS))
    except _arrow_errors() as exc:
        raise _Corrupt(f"unreadable Parquet ({type(exc).__name__}: {exc})") from exc
    columns = {}
    for name in _STORED_COLUMNS:
        column = table.column(name)
        if column.null_count:
            raise _Corrupt(f"column {name!r} has {column.null_count} empty values")
        wanted = pa.int64() if name == "timestamp" else pa.float64()
        kind = column.type
        if name == "timestamp" and not pa.types.is_integer(kind):
            raise _Corrupt(f"column 'timestamp' is {kind}, not integer epoch seconds")
        if name != "timestamp" and not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise _Corrupt(f"column {name!r} is {kind}, not a number")
        try:
            columns[name] = _numpy(column.cast(wanted).combine_chunks(), name)
        except _arrow_errors() as exc:
            raise _Corrupt(f"column {name!r} cannot be read as {wanted}: {exc}") from exc
    if not columns["timestamp"].shape[0]:
        # An exchange asked for a range with nothing in it: the record is the content.
        if _COVERAGE_KEY not in (schema.metadata or {}):
            raise _Corrupt("the file holds no candles")
    candles = Candles(
        ts=columns["timestamp"],
        open=columns["open"],
        high=columns["high"],
        low=columns["low"],
        close=columns["close"],
        volume=columns["volume"],
        interval_s=step,
    )
    try:
        validate_candles(
            candles.ts,
            candles.open,
            candles.high,
            candles.low,
            candles.close,
            candles.volume,
            source="stored candles",
        )
    except DataError as exc:
        raise _Corrupt(str(exc).removeprefix("stored candles: ")) from None
    return candles, _coverage_of(schema.metadata, candles)


def _record(metadata: dict[bytes, bytes] | None) -> list[Range] | None:
    """The coverage record in a file's schema metadata, or None when it has none.

    Raises:
        _Corrupt: the record is there but unreadable.
    """
    raw = (metadata or {}).get(_COVERAGE_KEY)
    if raw is None:
        return None
    try:
        ranges = ranges_from_json(json.loads(raw))
    except ValueError:
        ranges = None
    if ranges is None:
        raise _Corrupt("its coverage record (hbbacktest.coverage metadata) is unreadable")
    return ranges


def _coverage_of(metadata: dict[bytes, bytes] | None, candles: Candles) -> list[Range]:
    """Coverage from the record, or the candles' own span when there is none (older files).

    Raises:
        _Corrupt: an unreadable record.
    """
    ranges = _record(metadata)
    if ranges is None:
        return [(int(candles.ts[0]), int(candles.ts[-1]))] if len(candles) else []
    return merge_ranges(ranges, candles.interval_s)


def _numpy(array: Any, name: str) -> np.ndarray:
    """A primitive Arrow array without nulls as a NumPy array, read from its data buffer.

    ``Array.to_numpy`` imports pandas (0.35 s) to check for pandas extension types; a stored
    candle column is a plain int64/float64 buffer, so reading the buffer is exact and cheaper.
    """
    dtype = np.dtype(np.int64 if name == "timestamp" else np.float64)
    data = array.buffers()[1]
    values = np.frombuffer(
        data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )
    return values.copy()


def _describe(file: Path) -> StoredSeries:
    """One :meth:`CandleStore.series` entry, from the file's metadata only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pair, _, interval = file.stem.rpartition("_")
    entry = StoredSeries(file.parent.name, pair, interval, None, None, 0, file)

    def corrupt(problem: str) -> StoredSeries:
        fix = _fix_command(entry.connector, pair, interval) + " (or delete the file)"
        return StoredSeries(
            entry.connector, pair, interval, None, None, entry.rows, file, problem, fix
        )

    try:
        interval_to_seconds(interval)
    except ConfigError:
        return StoredSeries(
            entry.connector,
            pair,
            interval,
            None,
            None,
            0,
            file,
            "the file name is not <BASE-QUOTE>_<interval>.parquet",
            "rename the file to <BASE-QUOTE>_<interval>.parquet, or move it out of the store",
        )
    try:
        with pq.ParquetFile(file) as parquet:
            meta = parquet.metadata
            entry = StoredSeries(entry.connector, pair, interval, None, None, meta.num_rows, file)
            schema = parquet.schema_arrow
            missing = [c for c in _STORED_COLUMNS if c not in schema.names]
            if missing:
                return corrupt(f"the file lacks column(s) {', '.join(missing)}")
            if not pa.types.is_integer(schema.field("timestamp").type):
                return corrupt("column 'timestamp' is not integer epoch seconds")
            recorded = _record(schema.metadata)
            if meta.num_rows == 0:
                if recorded is None:
                    return corrupt("the file holds no candles")
                # Asked, and the exchange had nothing: a dataset without candles.
                return dataclasses.replace(
                    entry, coverage=tuple(recorded), size_bytes=file.stat().st_size
                )
            bounds = _timestamp_bounds(meta)
            if bounds is None:
                # No statistics (another writer): read the one column, still not all of them.
                ts = parquet.read(columns=["timestamp"]).column(0)
                if ts.null_count:
                    return corrupt("column 'timestamp' has empty values")
                values = ts.to_numpy()
                bounds = int(values.min()), int(values.max())
    except _Corrupt as exc:
        return corrupt(str(exc))
    except _arrow_errors() as exc:
        return corrupt(f"unreadable Parquet ({type(exc).__name__}: {exc})")
    first, last = bounds
    if first < MIN_TS_S or last >= MAX_TS_S:
        return corrupt(
            f"timestamps {first} … {last} are outside 1970..2100 in epoch seconds (written in "
            "another unit?)"
        )
    try:
        size = file.stat().st_size
    except OSError:
        size = 0
    return dataclasses.replace(
        entry,
        first_ts=first,
        last_ts=last,
        coverage=tuple([(first, last)] if recorded is None else recorded),
        size_bytes=size,
    )


def _timestamp_bounds(meta: Any) -> tuple[int, int] | None:
    """Min and max of ``timestamp`` from row-group statistics (``pq.FileMetaData``), or None."""
    index = next(i for i in range(meta.num_columns) if meta.schema.column(i).path == "timestamp")
    lows, highs = [], []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(int(stats.min))
        highs.append(int(stats.max))
    if not lows:
        return None
    return min(lows), max(highs)


def _raise_if_io_error(exc: BaseException, path: Path) -> None:
    """Raise a plain DataError when reading failed for the system's reasons, not the file's.

    Too many open files, permissions, an I/O error (an ``OSError`` with an errno, itself or
    as the cause) say nothing about the file: it must not be called corrupt or moved away.
    """
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    if isinstance(cause, OSError) and cause.errno is not None:
        raise DataError(f"cannot read {path.absolute()}: {cause.strerror or cause}") from None


def _seconds_or_none(interval: str) -> int | None:
    try:
        return interval_to_seconds(interval)
    except ConfigError:
        return None


def _writer_alive(temporary: Path) -> bool:
    """True when the process named in ``.<file>.<pid>.tmp`` still runs (not a leftover)."""
    pid = temporary.name.rsplit(".", 2)[-2]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _outside(ts: np.ndarray, covered: list[Range]) -> int:
    """How many of ``ts`` lie in no range of ``covered``."""
    if not len(ts):
        return 0
    inside = np.zeros(len(ts), dtype=bool)
    for a, b in covered:
        lo, hi = np.searchsorted(ts, a, "left"), np.searchsorted(ts, b, "right")
        inside[lo:hi] = True
    return int((~inside).sum())


def _merge(old: Candles, new: Candles) -> Candles:
    """The union of two sorted series; at equal timestamps ``new`` wins."""
    if not len(old):
        return new
    ts = np.concatenate([new.ts, old.ts])
    # np.unique keeps the first occurrence of each timestamp, i.e. the new candle, and sorts.
    _, first = np.unique(ts, return_index=True)

    def union(name: str) -> np.ndarray:
        return np.concatenate([getattr(new, name), getattr(old, name)])[first]

    return Candles(
        ts=ts[first],
        open=union("open"),
        high=union("high"),
        low=union("low"),
        close=union("close"),
        volume=union("volume"),
        interval_s=new.interval_s,
    )


def _write_atomic(target: Path, candles: Candles, coverage: list[Range]) -> None:
    """Write ``target`` via a fsynced temporary and a rename; the old file survives a failure.

    The coverage travels in the file's own metadata, so candles and the record of what was
    asked for can never disagree after a crash.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "timestamp": pa.array(candles.ts, type=pa.int64()),
            **{name: pa.array(getattr(candles, name), type=pa.float64()) for name in COLUMNS},
        }
    ).replace_schema_metadata({_COVERAGE_KEY: json.dumps(ranges_to_json(coverage)).encode()})
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        # os.open with 0o666 lets the umask decide, as for any file the user creates
        # (mkstemp's 0600 made stored files unreadable to the user's other accounts/groups).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except _arrow_errors() as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(
            f"cannot write {target.absolute()}: {exc}; the stored file is unchanged"
        ) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        # Make the rename itself durable.
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


__all__ = [
    "NAME_MAX",
    "CandleStore",
    "DatasetUpdate",
    "Gap",
    "ImportReport",
    "StoredSeries",
    "canonical_interval",
    "check_trading_pair",
]
