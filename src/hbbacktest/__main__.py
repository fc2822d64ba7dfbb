"""``python -m hbbacktest`` runs the CLI."""

from hbbacktest.cli.main import main

main()
