"""banscan's command line. Thin: each command parses options and calls into the packages.

`commands.py` holds the Typer app and the list of commands, `common.py` what they share, and
every other module one command (or group of subcommands).
"""

from banscan.cli.commands import app, main

__all__ = ["app", "main"]
