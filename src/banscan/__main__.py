"""`python -m banscan`: the same command line as the `banscan` script."""

from banscan.cli import main

main()
