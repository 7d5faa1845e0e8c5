"""The HTML and Markdown pages: a title, warnings, and sections of text, a table and figures each.

The HTML embeds every image as base64, so the page opens offline with no CDN; the Markdown links the PNGs
written beside it. Numbers are shown to 4 significant digits and a missing value as "—", in every table.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import ganpipe.reporting.style  # noqa: F401  (backend and theme, before pyplot)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ganpipe.io import atomic_path  # noqa: E402


@dataclass
class Section:
    title: str
    text: str = ""
    figures: list[tuple[str, plt.Figure]] = field(default_factory=list)   # (file stem, figure)
    table: pd.DataFrame | None = None


def _md(text: str) -> str:
    return text.replace("<code>", "`").replace("</code>", "`")


def _png(fig: plt.Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.3em .7em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child,td:last-child,th:last-child{text-align:left}img{max-width:100%;height:auto}
.sub{color:#666}code{background:#f3f3f3;padding:0 .2em}
.warn{background:#fff4e5;border-left:4px solid #e8590c;padding:.5em 1em;margin:1em 0}.warn li{margin:.2em 0}"""


def write_report(out_dir: Path, title: str, subtitle: str, sections: list[Section], dpi: int,
                 warnings: list[str] = (), *, html_name: str = "index.html", md_name: str = "report.md",
                 fig_dir: str = "figures") -> None:
    """out_dir/index.html (self-contained), out_dir/report.md and the PNGs it links, out_dir/figures/*.png.
    Warnings (trusted text, may hold <code>) stand in a box under the title."""
    fig_rel = fig_dir
    fig_dir = out_dir / fig_rel
    fig_dir.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>{html.escape(title)}</h1><p class='sub'>{html.escape(subtitle)}</p>"]
    md = [f"# {title}", "", subtitle, ""]
    if warnings:
        body.append("<div class='warn'><strong>Warnings</strong><ul>" + "".join(f"<li>{w}</li>" for w in warnings)
                    + "</ul></div>")
        md += ["> **Warnings**", ">"] + [f"> - ⚠ {_md(w)}" for w in warnings] + [""]
    for s in sections:
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        md += [f"## {s.title}", ""]
        if s.text:
            body.append(f"<p>{s.text}</p>")  # trusted text written by the report stage, may hold <code>
            md += [_md(s.text), ""]
        if s.table is not None:   # numbers to 4 significant digits, a missing value (NaN, None) as "—"
            cells = s.table.astype(object)
            body.append(cells.where(s.table.notna(), "—").to_html(index=False, border=0,
                                                                   float_format=lambda v: f"{v:.4g}"))
            md += [cells.where(s.table.notna(), None).to_markdown(index=False, floatfmt=".4g", missingval="—"), ""]
        for stem, fig in s.figures:
            png = _png(fig, dpi)
            with atomic_path(fig_dir / f"{stem}.png") as tmp:
                tmp.write_bytes(png)
            b64 = base64.b64encode(png).decode()
            body.append(f"<p><img alt='{html.escape(stem)}' src='data:image/png;base64,{b64}'></p>")
            md += [f"![{stem}]({fig_rel}/{stem}.png)", ""]
    page = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width,initial-scale=1'><title>{html.escape(title)}</title><style>{CSS}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")
    with atomic_path(out_dir / html_name) as tmp:
        tmp.write_text(page)
    with atomic_path(out_dir / md_name) as tmp:
        tmp.write_text("\n".join(md) + "\n")
