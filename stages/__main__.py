"""`python -m stages <stage>`: one command per DVC stage, composed from the per-stage modules.

Only the named stage's module is imported, so a stage's code is exactly its module's import closure: what
dvc.yaml lists as its deps (tests/test_deps.py checks it). `--help` lists them all. The commands that are not
stages are `ganpipe <command>` (src/ganpipe/cli.py).
"""
import importlib
import sys

import typer

STAGES = ("validate", "fetch", "classifier", "ladder", "train", "generate", "evaluate", "toy", "report")


def build(names: tuple[str, ...] = STAGES) -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def stages() -> None:
        """ganpipe's DVC stages, in pipeline order. Each reads params.yaml; paths come from dvc.yaml.
        The commands that are not stages: `ganpipe --help`."""

    for name in names:
        app.command(name)(getattr(importlib.import_module(f"stages.{name}"), name))
    return app


if __name__ == "__main__":
    asked = sys.argv[1] if len(sys.argv) > 1 else None
    build((asked,) if asked in STAGES else STAGES)()
