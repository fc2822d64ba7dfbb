"""Hummingbot's import paths, mapped onto hbbacktest (see hbbacktest.compat.loader)."""
