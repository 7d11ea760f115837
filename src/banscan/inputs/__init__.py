"""Readers for inventories organisations already have: osquery logs, CSV exports, SBOMs …

Each format is one module with a reader class (see base.InputReader); `detect` picks the
reader from a file's first bytes, and `read_target` opens (decompresses) and reads one input.
"""
