"""Signed catalog updates with The Update Framework (python-tuf).

`keys` makes and reads the maintainers' key sets, `repository` builds and signs a TUF
repository holding the catalog as a target, `bundle` packs a repository into one file for
air-gapped networks and reads it back as a fetcher, `client` verifies and installs an update
with `tuf.ngclient`, and `status` reports what is trusted and installed.
"""

CATALOG_TARGET = "banscan-catalog.json"  # the catalog's name among the repository's targets
TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
