"""macos collectors."""
