"""linux collectors."""
