"""A local Parquet candle store: one file per (connector, trading pair, interval).

Layout: ``<data_dir>/candles/<connector>/<BASE-QUOTE>_<interval>.parquet`` with columns
``timestamp`` (int64 epoch seconds, candle open time) and OHLCV floats. Writes are atomic
(temporary file + rename), so a crash never leaves a half-written file.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hbbacktest.core.errors import DataError, DataMissingError
from hbbacktest.core.time import format_time, interval_to_seconds
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import normalize_frame, resample, validate_frame

_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class StoredSeries:
    """What the store holds for one market and interval."""

    connector: str
    trading_pair: str
    interval: str
    first_ts: int
    last_ts: int
    rows: int


def _check_name(value: str, what: str) -> str:
    if not _SAFE.match(value) or value in (".", ".."):
        raise DataError(f"invalid {what} {value!r}: use letters, digits, '-', '_' or '.'")
    return value


class CandleStore:
    """Parquet candle files under ``data_dir`` (see the module docstring for the layout)."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)

    def path(self, connector: str, trading_pair: str, interval: str) -> Path:
        """The file that holds one series."""
        interval_to_seconds(interval)
        connector = _check_name(connector, "connector")
        pair = _check_name(trading_pair.upper(), "trading pair")
        return self.data_dir / "candles" / connector / f"{pair}_{interval}.parquet"

    def write(self, connector: str, trading_pair: str, interval: str, frame: pd.DataFrame) -> int:
        """Merge clean candles into the store; rows at existing timestamps are replaced.

        Returns:
            The number of rows the series holds afterwards.
        """
        target = self.path(connector, trading_pair, interval)
        if target.exists():
            existing = self._read(target)
            merged = pd.concat([existing, frame], ignore_index=True)
            merged = merged.drop_duplicates("timestamp", keep="last").sort_values("timestamp")
            frame = merged.reset_index(drop=True)
        validate_frame(frame, source=str(target))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        os.close(fd)
        try:
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return len(frame)

    def import_file(
        self, file: str | os.PathLike[str], connector: str, trading_pair: str, interval: str
    ) -> int:
        """Read a CSV or Parquet file, validate it and merge it into the store.

        Raises:
            DataError: when the file cannot be read or its candles are invalid (says why/where).
        """
        path = Path(file)
        if not path.is_file():
            raise DataError(f"no such file: {path}")
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                raw = pd.read_parquet(path)
            else:
                raw = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read it as {path.suffix or 'CSV'}: {exc}") from exc
        frame = normalize_frame(raw, source=str(path))
        step = interval_to_seconds(interval)
        misaligned = frame["timestamp"].to_numpy() % step != 0
        if misaligned.any():
            first = int(frame["timestamp"].to_numpy()[misaligned][0])
            raise DataError(
                f"{path}: {int(misaligned.sum())} timestamps are not multiples of {interval} "
                f"(first {format_time(first)}); is --interval right?"
            )
        return self.write(connector, trading_pair, interval, frame)

    def series(self) -> list[StoredSeries]:
        """Every series in the store."""
        root = self.data_dir / "candles"
        found = []
        for file in sorted(root.glob("*/*.parquet")):
            pair, _, interval = file.stem.rpartition("_")
            ts = pd.read_parquet(file, columns=["timestamp"])["timestamp"].to_numpy()
            if len(ts):
                found.append(
                    StoredSeries(file.parent.name, pair, interval, int(ts[0]), int(ts[-1]), len(ts))
                )
        return found

    def intervals(self, connector: str, trading_pair: str) -> list[str]:
        """Intervals stored for a market, finest first."""
        folder = self.path(connector, trading_pair, "1m").parent
        prefix = f"{trading_pair.upper()}_"
        names = [f.stem[len(prefix) :] for f in folder.glob(f"{prefix}*.parquet")]
        valid = []
        for name in names:
            try:
                valid.append((interval_to_seconds(name), name))
            except Exception:
                continue
        return [name for _, name in sorted(valid)]

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
        """
        step = interval_to_seconds(interval)
        target = self.path(connector, trading_pair, interval)
        if target.exists():
            candles = Candles.from_frame(self._read(target), step)
        else:
            finer = [
                name
                for name in self.intervals(connector, trading_pair)
                if interval_to_seconds(name) < step and step % interval_to_seconds(name) == 0
            ]
            if not finer:
                stored = self.intervals(connector, trading_pair)
                have = f"stored intervals: {', '.join(stored)}" if stored else "nothing is stored"
                raise DataMissingError(
                    f"no {interval} candles for {connector} {trading_pair.upper()} in "
                    f"{self.data_dir} ({have}). Import them with: hbbacktest data import FILE "
                    f"--connector {connector} --pair {trading_pair.upper()} --interval {interval}"
                )
            source = finer[-1]
            source_step = interval_to_seconds(source)
            # Read whole buckets so the first resampled candle is complete.
            lo = None if start is None else start - start % step
            hi = None if end is None else end + step - 1
            fine = Candles.from_frame(
                self._read(self.path(connector, trading_pair, source)), source_step
            )
            if lo is not None or hi is not None:
                fine = fine.between(
                    lo if lo is not None else -(2**62), hi if hi is not None else 2**62
                )
            candles = resample(fine, step)
        if start is not None or end is not None:
            candles = candles.between(
                start if start is not None else -(2**62), end if end is not None else 2**62
            )
        return candles

    @staticmethod
    def _read(path: Path) -> pd.DataFrame:
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"{path}: cannot read the stored candles: {exc}") from exc
        columns = ["timestamp", "open", "high", "low", "close", "volume"]
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{path}: stored file lacks column(s) {', '.join(missing)}")
        frame = frame[columns]
        frame["timestamp"] = frame["timestamp"].astype(np.int64)
        return frame
