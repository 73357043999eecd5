"""Background workers: one package per function, each with a `handler`."""
