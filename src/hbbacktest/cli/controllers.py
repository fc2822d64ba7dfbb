"""``hbbacktest controllers``: what can run, and each config's schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hbbacktest.cli._common import ControllersDir, handle_errors, settings

controllers_app = typer.Typer(
    no_args_is_help=True, help="List the controllers that can run.", rich_markup_mode=None
)


@controllers_app.command("list")
@handle_errors
def controllers_list(controllers_dir: ControllersDir = None) -> None:
    """List the controllers that can run (and user files that failed to load)."""
    from hbbacktest.service import build_registry

    registry = build_registry(settings(controllers_dirs=controllers_dir))
    for controller_type, name in registry.describe():
        typer.echo(f"{controller_type:<20} {name:<24} {registry.source(name)}")
    for name, message in sorted(registry.broken.items()):
        typer.echo(f"{'BROKEN':<20} {name:<24} {message}")


@controllers_app.command("schema")
@handle_errors
def controllers_schema(
    name: Annotated[str, typer.Argument(help="A controller_name.")],
    controllers_dir: ControllersDir = None,
) -> None:
    """Print a controller config's JSON schema (for UIs and validation)."""
    from hbbacktest.config.schema import config_schema
    from hbbacktest.service import build_registry

    registry = build_registry(settings(controllers_dirs=controllers_dir))
    controller = registry.get(name)
    typer.echo(json.dumps(config_schema(controller.config_class), indent=2))
