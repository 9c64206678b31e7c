"""One module per CLI command: turns parsed arguments into calls and prints results."""
