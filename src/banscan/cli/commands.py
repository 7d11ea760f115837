"""The `banscan` Typer app and the one list of its commands.

Each command lives in a module of its own in this package; its web-stack, store and document
imports happen inside its functions, so `banscan scan` never loads the server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from banscan.cli.agent import agent
from banscan.cli.catalog import catalog_app
from banscan.cli.enrol_secrets import enrol_secret_app
from banscan.cli.export import export
from banscan.cli.notice import notice_app
from banscan.cli.org import org_app
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
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        version()
        raise typer.Exit(0)


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the versions of banscan and its catalog.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Find banned software (Kaspersky first), say what each rule requires by when, and prove it is gone."""


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
    ("enrol-secret", enrol_secret_app),
    ("org", org_app),
    ("notice", notice_app),
]

for _name, _command in COMMANDS:
    app.command(_name)(_command)
for _name, _group in GROUPS:
    app.add_typer(_group, name=_name)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage-error class: Typer's own copy of Click (0.20 and later) and Click itself."""
    found: list[type[Exception]] = []
    try:
        from typer._click.exceptions import ClickException as Vendored

        found.append(Vendored)
    except ImportError:
        pass
    try:
        import click

        found.append(click.ClickException)
    except ImportError:
        pass
    return tuple(found)


def main() -> None:
    """Run the app; whatever goes wrong unforeseen is one line and exit 2, never a traceback and
    never exit 1 (which means findings). `--debug` (or BANSCAN_DEBUG=1) shows the traceback."""
    import os
    import sys
    from typing import Any

    from banscan.errors import DEBUG_ENV, debug_enabled, unexpected

    args = sys.argv[1:]
    stop = args.index("--") if "--" in args else len(args)
    if "--debug" in args[:stop]:
        args = [a for a in args[:stop] if a != "--debug"] + args[stop:]
        os.environ[DEBUG_ENV] = "1"
    try:
        code = app(args=args, standalone_mode=False)
    except _usage_errors() as exc:  # usage errors, shown as Typer shows them (exit 2)
        shown: Any = exc
        try:
            from typer import rich_utils

            rich_utils.rich_format_error(shown)
        except (ImportError, AttributeError):
            shown.show()
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except typer.Abort as exc:  # end of input at a prompt (or a stray EOFError)
        if debug_enabled() and exc.__cause__ is not None:
            import traceback

            traceback.print_exception(exc.__cause__)
        sys.stderr.write("banscan: error: aborted (end of input)\n")
        sys.exit(2)
    except SystemExit as exc:  # a broken pipe: Typer exits 1, which would read as findings
        if exc.code == 1 and isinstance(exc.__context__, OSError):
            sys.exit(2)
        raise
    except Exception as exc:  # noqa: BLE001 - the last word on anything unforeseen
        if debug_enabled():
            import traceback

            traceback.print_exc()
        where = getattr(exc, "filename", None)
        prefix = f"{os.fsdecode(where)}: " if isinstance(where, str | bytes | os.PathLike) and where else ""
        hint = "" if debug_enabled() else " (--debug shows the traceback)"
        sys.stderr.write(f"banscan: error: {prefix}{unexpected(exc)}{hint}\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
