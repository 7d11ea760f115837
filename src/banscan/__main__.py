"""`python -m banscan`: the same command line as the `banscan` script."""

from banscan.cli import main

if __name__ == "__main__":  # worker processes of a deep scan import this module too
    main()
