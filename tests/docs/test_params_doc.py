"""docs/reference/params.md against the schema (src/ganpipe/config.py) and params.yaml, both ways: every key of the
schema is documented with its range and params.yaml's value, and every documented key exists."""
from __future__ import annotations

import re
import typing
from pathlib import Path

from pydantic import BaseModel
from ruamel.yaml import YAML

from ganpipe import config
from ganpipe.gan.objectives import ADVERSARIAL

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs/reference/params.md"
SYMBOLS = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def schema_fields(model: type[BaseModel] = config.Params, prefix: str = "") -> dict[str, typing.Any]:
    """Every leaf key of the schema, dotted, with its pydantic FieldInfo; `losses` as losses.<loss>.<key>."""
    out = {}
    for name, field in model.model_fields.items():
        name = field.alias or name
        ann = field.annotation
        models = [a for a in typing.get_args(ann) or (ann,) if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:   # a section, or an optional one (each loss's block under `losses`)
            out |= schema_fields(models[0], f"{prefix}{name}.")
        elif typing.get_origin(ann) is dict:
            key_type, value_type = typing.get_args(ann)
            for loss in typing.get_args(key_type):
                out |= schema_fields(value_type, f"{prefix}{name}.{loss}.")
        else:
            out[prefix + name] = field
    return out


def params_values() -> dict[str, typing.Any]:
    def flat(node, prefix=""):
        for k, v in node.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield prefix + k, v
    return dict(flat(YAML(typ="safe").load(ROOT / "params.yaml")))


def tables() -> list[tuple[list[str], list[list[str]]]]:
    """Each Markdown table of the page: its header cells and its rows' cells (`\\|` inside a cell kept)."""
    found, header, rows = [], None, []
    for line in PAGE.read_text().splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if header is None:
                header = cells
            elif not set(line) <= set("|-: "):
                rows.append(cells)
        elif header is not None:
            found.append((header, rows))
            header, rows = None, []
    return found


def documented() -> dict[str, dict[str, str]]:
    """key -> {column: cell} from every table whose first column is `key`; the per-loss defaults table expanded
    to losses.<loss>.<column>."""
    out = {}
    for header, rows in tables():
        if header[0] == "key":
            for cells in rows:
                out[cells[0].strip("`")] = dict(zip(header, cells))
        elif header[0] == "loss" and "optimizer" in header:
            for cells in rows:
                for column, cell in zip(header[1:], cells[1:]):
                    out[f"losses.{cells[0].strip('`')}.{column}"] = {"default": cell}
    return out


def expected_range(field) -> str:
    return ", ".join(f"{SYMBOLS[k]} {getattr(m, k)}" for m in field.metadata for k in SYMBOLS
                     if getattr(m, k, None) is not None)


def test_every_schema_key_is_documented_and_every_documented_key_exists():
    schema, docs = set(schema_fields()), documented()
    generic = {k for k in docs if "<loss>" in k}   # the losses' key table names each key once for every loss
    per_loss = {k.replace(f".{loss}.", ".<loss>.") for k in schema if k.startswith("losses.")
                for loss in [k.split(".")[1]] if loss in ADVERSARIAL}
    assert sorted(schema - set(docs)) == []
    assert sorted(set(docs) - schema - generic) == []
    assert generic == per_loss


def test_every_default_is_params_yaml_value():
    values, docs = params_values(), documented()
    assert set(values) == set(schema_fields())   # params.yaml writes every key out
    wrong = {}
    for key, value in values.items():
        cell = docs[key]["default"].strip("`")
        if YAML(typ="safe").load(cell) != value:
            wrong[key] = (cell, value)
    assert wrong == {}


def test_ranges_and_choices_match_the_schema():
    fields, docs = schema_fields(), documented()
    for key, field in fields.items():
        # an adversarial loss's key: the losses' key table; the histogram losses' keys have rows of their own
        row = docs[key] if key in docs and "range" in docs[key] else docs[re.sub(r"^losses\.[^.]+\.", "losses.<loss>.", key)]
        want = expected_range(field)
        if want:
            assert row["range"] == want, key
        else:
            assert not re.search(r"[<>≤≥]", row["range"]), key
        ann = field.annotation
        if typing.get_origin(ann) is typing.Literal:
            assert [c for c in typing.get_args(ann) if f"`{c}`" not in row["type"]] == [], key


def test_the_page_parser_sees_the_tables():
    # the checks above must be able to fail: a key dropped from the page is noticed
    docs = documented()
    assert "train.ema_decay" in docs and docs["train.ema_decay"]["range"] == "≥ 0, < 1"
    assert docs["losses.wgan.clip"]["default"] == "`0.01`"
