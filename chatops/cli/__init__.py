"""The chatops command line (Typer + rich): thin commands over the library layer."""
