"""The edge: one thin Typer command per DVC stage. Only this package touches files, seeds, devices and params.yaml."""
