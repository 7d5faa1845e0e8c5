"""dvc.yaml's code deps cannot drift from the imports: each stage's code deps are exactly the import closure of
its entry module (`python -m stages <stage>` imports only stages/<stage>.py, see stages/__main__.py).

The closure is read from the source (every import statement, function-level ones included), following the
project's own packages (stages, ganpipe) file by file, package __init__ files included. When this fails, the
message lists the lines to add to (or remove from) the stage's `deps:` in dvc.yaml.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.helpers import ROOT

OURS = {"stages": ROOT / "stages", "ganpipe": ROOT / "src" / "ganpipe"}


def module_file(name: str) -> Path | None:
    """stages.train -> stages/train.py; ganpipe.gan -> src/ganpipe/gan/__init__.py; None if not ours or absent."""
    top, *rest = name.split(".")
    if top not in OURS:
        return None
    base = OURS[top].joinpath(*rest)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement of `path` names, with `from a import b` resolved to a.b when b is a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if module_file(f"{node.module}.{alias.name}") is not None)
    return found


def closure(entry: str) -> set[Path]:
    """The project files that importing module `entry` executes."""
    todo, seen, files = [entry], set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        files.add(path)
        todo.extend(_parents(name))
        todo.extend(imported_modules(path))
    return files


def stage_code(stage: str) -> set[str]:
    """What dvc.yaml must list for `python -m stages <stage>`: __main__ and the stage module's closure."""
    files = closure("stages.__main__") | closure(f"stages.{stage}")
    return {str(f.relative_to(ROOT)) for f in files}


def dvc_yaml() -> dict:
    return YAML(typ="safe").load(ROOT / "dvc.yaml")["stages"]


def code_deps(stage: dict) -> set[str]:
    return {d for d in stage.get("deps", []) if d.endswith(".py")}


STAGES = sorted(dvc_yaml())


def test_every_stage_runs_through_python_m_stages():
    for name, stage in dvc_yaml().items():
        assert stage["cmd"].split()[:4] == ["python", "-m", "stages", name], name


@pytest.mark.parametrize("stage", STAGES)
def test_the_code_deps_of_each_stage_are_its_import_closure(stage):
    listed, needed = code_deps(dvc_yaml()[stage]), stage_code(stage)
    missing, extra = sorted(needed - listed), sorted(listed - needed)
    assert not missing and not extra, (
        f"dvc.yaml, stage {stage}: add to deps {missing}; remove from deps {extra}" if extra else
        f"dvc.yaml, stage {stage}: add to deps {missing}")


def test_the_closure_follows_function_level_and_package_imports(tmp_path):
    train = stage_code("train")
    assert "src/ganpipe/gan/session.py" in train and "src/ganpipe/gan/__init__.py" in train
    assert "src/ganpipe/__init__.py" in train and "stages/_common.py" in train
    assert not any(f.startswith("src/ganpipe/reporting/") for f in train)   # train draws no report
    # the stage module's own import runs: the closure of stages.report holds what reporting imports lazily too
    assert "src/ganpipe/reporting/style.py" in stage_code("report")


def test_a_missing_dep_is_named(monkeypatch):
    """The check can fail: with one file dropped from a stage's deps, it names that file."""
    stages = dvc_yaml()
    stages["train"]["deps"].remove("src/ganpipe/gan/resume.py")
    monkeypatch.setattr(sys.modules[__name__], "dvc_yaml", lambda: stages)
    with pytest.raises(AssertionError, match=r"stage train: add to deps \['src/ganpipe/gan/resume.py'\]"):
        test_the_code_deps_of_each_stage_are_its_import_closure("train")
