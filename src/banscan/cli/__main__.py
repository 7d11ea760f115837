"""`python -m banscan.cli`."""

from banscan.cli import main

main()
