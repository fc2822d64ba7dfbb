"""Config files are read safely: size, encoding, YAML aliases, nesting."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbbacktest.config.limits import MAX_CONFIG_BYTES
from hbbacktest.config.loading import parse_config_text, read_config_file
from hbbacktest.core.errors import ConfigError


def test_reads_yaml_and_json(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("controller_name: pmm_simple\nbuy_spreads: 0.01,0.02\n")
    (tmp_path / "b.json").write_text('{"controller_name": "pmm_simple"}')
    assert read_config_file(tmp_path / "a.yml")["buy_spreads"] == "0.01,0.02"
    assert read_config_file(tmp_path / "b.json") == {"controller_name": "pmm_simple"}


def test_utf8_with_bom_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_bytes("\ufeffcontroller_name: pmm_simple\n".encode())
    assert read_config_file(tmp_path / "a.yml") == {"controller_name": "pmm_simple"}


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "latin1.yml").write_bytes("id: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 7 is 0xe9\); save it as UTF-8"):
        read_config_file(tmp_path / "latin1.yml")


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_bytes(b"#" * (MAX_CONFIG_BYTES + 10))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        read_config_file(big)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        read_config_file(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match="is a directory"):
        read_config_file(tmp_path)


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    text = "controller_name: pmm_simple\nunknown_key: &bomb\n" + "\n".join(
        "  " + line for line in lines
    )
    with pytest.raises(ConfigError, match="each use of a YAML alias counted"):
        parse_config_text(text, source="bomb.yml")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="refers to itself"):
        parse_config_text("a: &x [1, *x]\n", source="loop.yml")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ConfigError, match="nested"):
        parse_config_text("a: " + "[" * 200 + "]" * 200, source="deep.yml")
    with pytest.raises(ConfigError, match="nested"):
        parse_config_text("[" * 100_000 + "]" * 100_000, source="deeper.yml")


def test_invalid_yaml_and_json_name_the_file() -> None:
    with pytest.raises(ConfigError, match=r"^x\.yml: not valid YAML"):
        parse_config_text("a: [1,\n", source="x.yml")
    with pytest.raises(ConfigError, match=r"^x\.json: not valid JSON"):
        parse_config_text("{", source="x.json", as_json=True)
