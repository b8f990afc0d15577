"""The `newsletter` command: one module per command group, arguments and printing only."""
