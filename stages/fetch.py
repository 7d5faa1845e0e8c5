"""fetch: the dataset that params' `dataset` names -> data/real/images.npz + manifest.json, checked or nothing.
A built-in dataset (mnist, fashion-mnist) is downloaded and checked bit for bit against its pins; any other name is
your own images, a folder or an .npz under datasets/, read and split into training and test images."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ganpipe.config import BUILTIN_DATASETS
from ganpipe.data.arrays import save_dataset
from ganpipe.data.idx import FetchError
from ganpipe.data.own import read_own
from ganpipe.data.sources import default_cache_dir, fetch_dataset
from ganpipe.io import write_json
from stages._common import FactsOpt, ParamsOpt, echo, fail, load_params_or_exit, refusing, run_facts


def fetch(
    out: Annotated[Path, typer.Option(help="folder for images.npz and manifest.json")],
    facts: FactsOpt,
    params: ParamsOpt = Path("params.yaml"),
    datasets_dir: Annotated[Path, typer.Option(help="the folder in which `dataset` names your own images")] = Path(
        "datasets"),
    cache_dir: Annotated[Optional[Path], typer.Option(help="download cache (the fallbacks); default "
                                                           "$XDG_CACHE_HOME/ganpipe")] = None,
) -> None:
    """Fetch and verify a built-in dataset, or read your own images; write them as one npz."""
    p = load_params_or_exit(params)
    with run_facts("fetch", facts) as f:
        if p.dataset in BUILTIN_DATASETS:
            local = Path(p.fetch.local_dir) if p.fetch.local_dir else None
            try:
                arrays, manifest = fetch_dataset(p.dataset, local_dir=local, mirrors=p.datasets[p.dataset].mirrors,
                                                 cache_dir=cache_dir or default_cache_dir(),
                                                 timeout_s=p.fetch.timeout_s, log=echo)
            except FetchError as e:
                fail(f"{e}; to use a copy you have, set fetch.local_dir in {params} to a folder of the four IDX files")
        else:
            own = p.datasets.own
            with refusing():
                arrays, read = read_own(datasets_dir / p.dataset, image_size=own.image_size,
                                        test_fraction=own.test_fraction, split_seed=own.split_seed)
            manifest = {"dataset": p.dataset, "title": p.dataset, **read, "source": f"{read['source']}:{read['path']}"}
        problem = p.size_problem(len(arrays["x_train"]), len(arrays["x_test"]))
        if problem:
            fail(f"{params}: dataset {p.dataset}: {problem}")
        save_dataset(out / "images.npz", arrays)
        write_json(out / "manifest.json", manifest)
        f.update(dataset=p.dataset, title=manifest["title"], source=manifest["source"])
        echo(f"fetch: {manifest['title']} from {manifest['source']}: {len(arrays['x_train'])} training and "
             f"{len(arrays['x_test'])} test images")
