"""The `banscan` Typer app and the one list of its commands.

Each command lives in a module of its own in this package; its web-stack, store and document
imports happen inside its functions, so `banscan scan` never loads the server.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from banscan.cli.agent import agent
from banscan.cli.catalog import catalog_app
from banscan.cli.export import export
from banscan.cli.plan import plan_command
from banscan.cli.report import report_command
from banscan.cli.scan import scan
from banscan.cli.serve import serve
from banscan.cli.tokens import token_app
from banscan.cli.users import user_app
from banscan.cli.version import version

app = typer.Typer(
    name="banscan",
    help="Find banned software (Kaspersky first), say what each rule requires by when, and prove it is gone.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Listed in this order by `banscan --help`: the commands, then the groups of subcommands.
COMMANDS: list[tuple[str, Callable[..., None]]] = [
    ("scan", scan),
    ("export", export),
    ("version", version),
    ("report", report_command),
    ("plan", plan_command),
    ("serve", serve),
    ("agent", agent),
]
GROUPS: list[tuple[str, typer.Typer]] = [
    ("catalog", catalog_app),
    ("user", user_app),
    ("token", token_app),
]

for _name, _command in COMMANDS:
    app.command(_name)(_command)
for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)


def main() -> None:
    app()
