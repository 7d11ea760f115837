"""windows collectors."""
