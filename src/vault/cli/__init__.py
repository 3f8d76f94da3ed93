"""The ``vault`` command line (typer): thin wrappers over domain services."""
