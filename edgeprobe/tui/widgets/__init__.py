"""One widget per panel of the TUI."""
