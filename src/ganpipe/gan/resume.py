"""Resume after a kill: training state snapshots in a scratch folder that DVC never deletes.

Owns: the resume state of a run (TrainState), the key of a run (a hash of its params, input data and code: a different run can never resume
someone else's state), capturing and restoring every RNG state, and the scratch entry of one run
(its state file and a copy of its log folder, both replaced atomically, pruned when the run completes).
Refuses: deciding when to checkpoint (the loop does) and what a run's params are (the stage does).
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganpipe.io import first_line


@dataclass(frozen=True)
class TrainState:
    """Everything a killed run needs to continue bit for bit after `step`: the networks, the optimisers and every
    RNG. Saved as a plain dict of tensors (to_dict), so it loads with torch.load(weights_only=True)."""
    step: int
    G: dict
    D: dict | None               # None when the objective trains no critic
    opt_g: dict
    opt_d: dict | None
    rng: dict                    # rng_state()
    last_logged: dict | None     # the last logging step's values: what a divergence message quotes
    G_ema: dict | None = None    # the averaged generator, when the plan keeps one

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}   # shallow: asdict() would copy every tensor

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainState":
        if missing := {"step", "G", "opt_g", "rng"} - d.keys():
            raise ValueError(f"lacks {', '.join(sorted(missing))}")
        known = {f.name for f in fields(cls)}
        return cls(**{"D": None, "opt_d": None, "last_logged": None, **{k: v for k, v in d.items() if k in known}})


def run_key(params: dict[str, Any], files: list[Path]) -> str:
    """sha256 of the params (canonical JSON) and of each file's name and bytes, in the order given."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for f in files:
        h.update(b"\0" + Path(f).name.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG a run may draw from, as tensors and plain values (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "loop": generator.get_state(),
        "loop_device": str(generator.device),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    if str(generator.device) != state["loop_device"]:
        raise ValueError(f"checkpoint drew its random numbers on {state['loop_device']}, this run on "
                         f"{generator.device}: a resumed run would not continue the same stream")
    generator.set_state(state["loop"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def code_files(*extra: Path) -> list[Path]:
    """The code a run's result depends on: every module of the library, plus `extra` (the stage's own files). More
    than the run imports, which is safe: a resume is only refused more often."""
    return sorted(Path(__file__).parents[1].rglob("*.py")) + list(extra)


class Scratch:
    """One run's scratch entry, `root/<key>/`: one folder per checkpoint, `<step>/state.pt` + `<step>/live/` (a copy
    of the log folder at that step). A checkpoint is written under a temporary name and renamed into place, so a
    kill at any moment leaves the previous checkpoint whole; older ones are removed after the rename."""

    def __init__(self, root: Path, key: str):
        self.dir = Path(root) / key

    def _checkpoints(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(d for d in self.dir.iterdir() if d.name.isdigit() and (d / "state.pt").is_file())

    def latest(self) -> Path | None:
        found = self._checkpoints()
        return found[-1] if found else None

    def load(self) -> TrainState | None:
        """The last complete checkpoint's state, or None when there is none (a fresh run)."""
        last = self.latest()
        if last is None:
            return None
        try:
            return TrainState.from_dict(torch.load(last / "state.pt", map_location="cpu", weights_only=True))
        except Exception as e:
            raise ValueError(f"{last / 'state.pt'}: unreadable resume state ({first_line(e)}); "
                             f"delete {self.dir} to start the run afresh") from None

    def save(self, state: TrainState, live_dir: Path | None = None) -> Path:
        final = self.dir / f"{state.step:09d}"
        tmp = self.dir / f".{state.step:09d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if live_dir is not None and Path(live_dir).is_dir():
            shutil.copytree(live_dir, tmp / "live")
        torch.save(state.to_dict(), tmp / "state.pt")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in self._checkpoints():
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
        return final

    def restore_live(self, live_dir: Path) -> None:
        """Replace `live_dir` with the log folder saved with the last checkpoint (or remove it if none was)."""
        shutil.rmtree(live_dir, ignore_errors=True)
        last = self.latest()
        if last is not None and (last / "live").is_dir():
            shutil.copytree(last / "live", live_dir)

    def prune(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
