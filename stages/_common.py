"""What every stage shares: params loading with one-line errors, clean failure, and the run-facts file."""
from __future__ import annotations

import contextlib
import platform
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from ganpipe.config import Params, ParamsError, load_params
from ganpipe.io import write_json

ParamsOpt = Annotated[Path, typer.Option(help="params file (validated on load)")]
FactsOpt = Annotated[Path, typer.Option(help="JSON of run facts (wall time, device) read by the report")]


def In(help: str) -> Any:
    """An input file that must exist: typer refuses a missing one by name."""
    return typer.Option(exists=True, dir_okay=False, help=help)


def fail(message: str, code: int = 1) -> None:
    """One line on stderr naming what is wrong, then exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def refusing(*errors: type[BaseException], prefix: str = "") -> Iterator[None]:
    """The library's one-line errors (ValueError by default) become `fail`: one line, a non-zero exit."""
    try:
        yield
    except errors or (ValueError,) as e:
        fail(f"{prefix}{e}")


def load_params_or_exit(path: Path) -> Params:
    if not path.is_file():
        fail(f"{path}: no such params file")
    try:
        return load_params(path)
    except ParamsError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None


@contextlib.contextmanager
def run_facts(stage: str, path: Path) -> Iterator[dict[str, Any]]:
    """Times the block and writes {stage, wall_s, started, python, ...} to `path`, plus whatever the block adds.
    Written only when the block succeeds, like every other output."""
    facts: dict[str, Any] = {
        "stage": stage,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "host": platform.node(),
    }
    t0 = time.perf_counter()
    yield facts
    facts["wall_s"] = round(time.perf_counter() - t0, 2)
    write_json(path, facts)


def echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
