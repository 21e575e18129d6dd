"""A tiny document model (headings, paragraphs, lists, tables, images) rendered to Markdown and to one
self-contained HTML page (images embedded as base64 PNG), so both reports say exactly the same thing.

Inline markup: `code` and **bold**. The HTML page opens with a table of contents (every h2 has an anchor);
a table longer than MAX_ROWS shows its first MAX_ROWS rows and folds the rest into a <details> element,
while Markdown keeps the first MAX_ROWS and says where the rest is (a CSV next to the report, or
summary.json). A chart that was not drawn says why in its place."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

MAX_ROWS = 20

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.45}"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    "img{max-width:100%;border:1px solid #eee}.verdicts li{margin:.3em 0}code{background:#f5f5f5;padding:0 3px}"
    "details{margin:.2em 0 .8em}summary{cursor:pointer;color:#0645ad}nav.toc{background:#fafafa;border:1px solid #eee;"
    "padding:.4em 1em;margin:1em 0}nav.toc ol{margin:.2em 0}"
    ".nochart{color:#666;font-style:italic;border-left:3px solid #ddd;padding-left:.6em}"
    "figcaption{font-size:.9em;color:#444}td.t,th.t{text-align:left}"
)


@dataclass
class Block:
    kind: str  # h1 h2 h3 p ul table img
    text: str = ""
    items: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    png: bytes = b""
    path: str = ""  # relative path of the PNG next to report.md
    rest: str = ""  # table: where the rows Markdown leaves out are (e.g. "windows.csv")


class Doc:
    def __init__(self) -> None:
        self.blocks: list[Block] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(Block(f"h{level}", text))

    def p(self, text: str) -> None:
        self.blocks.append(Block("p", text))

    def ul(self, items: list[str]) -> None:
        if items:
            self.blocks.append(Block("ul", items=items))

    def table(self, header: list[str], rows: list[list[str]], rest: str = "summary.json") -> None:
        if rows:
            self.blocks.append(Block("table", header=header, rows=rows, rest=rest))

    def img(self, png: bytes | None, path: str, caption: str, why_not: str | None = None) -> None:
        """A chart; when it was not drawn and `why_not` says why, that reason in its place."""
        if png:
            self.blocks.append(Block("img", text=caption, png=png, path=path))
        elif why_not:
            self.blocks.append(Block("nochart", text=f'No chart "{caption}": {why_not}'))


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(b: Block) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |", "|" + "---|" * len(b.header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows[:MAX_ROWS]]
    if len(b.rows) > MAX_ROWS:
        lines += ["", f"*First {MAX_ROWS} of {len(b.rows)} rows; all of them are in `{b.rest}`.*"]
    return [*lines, ""]


def to_markdown(doc: Doc) -> str:
    lines: list[str] = []
    for b in doc.blocks:
        if b.kind.startswith("h"):
            lines += ["#" * int(b.kind[1]) + " " + b.text, ""]
        elif b.kind in ("p", "nochart"):
            lines += [b.text if b.kind == "p" else f"> {b.text}", ""]
        elif b.kind == "ul":
            lines += [f"- {item}" for item in b.items] + [""]
        elif b.kind == "table":
            lines += _md_table(b)
        elif b.kind == "img":
            lines += [f"![{b.text}]({b.path})", "", f"*{b.text}*", ""]
    return "\n".join(lines).rstrip() + "\n"


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _inline(text: str) -> str:
    """Escape, then render `code` spans and **bold** (the only inline markup the reports use)."""
    parts = html.escape(text, quote=False).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else _BOLD.sub(r"<b>\1</b>", p) for i, p in enumerate(parts))


def anchor(text: str) -> str:
    """The id of a heading: lower case, words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _toc(doc: Doc) -> str:
    items = "".join(f"<li><a href='#{anchor(b.text)}'>{_inline(b.text)}</a></li>" for b in doc.blocks if b.kind == "h2")
    return f"<nav class='toc'><b>Contents</b><ol>{items}</ol></nav>" if items else ""


def _is_text(cell: str) -> bool:
    return cell[:1].isalpha() and not cell.startswith("n/a")


def _html_rows(header: list[str], rows: list[list[str]]) -> str:
    """A table; a column whose first cell is text (a name, a bound, a verdict) is left-aligned, numbers right."""
    left = [_is_text(c) for c in rows[0]] if rows else []
    align = [" class='t'" if flag else "" for flag in left] + [""] * (len(header) - len(left))
    head = "".join(f"<th{a}>{_inline(h)}</th>" for h, a in zip(header, align, strict=False))
    cells = ("".join(f"<td{a}>{_inline(c)}</td>" for c, a in zip(row, align, strict=False)) for row in rows)
    body = "".join(f"<tr>{line}</tr>" for line in cells)
    return f"<table><tr>{head}</tr>{body}</table>"


def _html_table(b: Block) -> str:
    if len(b.rows) <= MAX_ROWS:
        return _html_rows(b.header, b.rows)
    more = len(b.rows) - MAX_ROWS
    return (
        _html_rows(b.header, b.rows[:MAX_ROWS])
        + f"<details><summary>{more} more rows (all {len(b.rows)} also in <code>{html.escape(b.rest)}</code>)"
        f"</summary>{_html_rows(b.header, b.rows[MAX_ROWS:])}</details>"
    )


def to_html(doc: Doc, title: str) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
    ]
    for b in doc.blocks:
        if b.kind == "h1":
            out += [f"<h1>{_inline(b.text)}</h1>", _toc(doc)]
        elif b.kind.startswith("h"):
            out.append(f"<{b.kind} id='{anchor(b.text)}'>{_inline(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{_inline(b.text)}</p>")
        elif b.kind == "nochart":
            out.append(f"<p class='nochart'>{_inline(b.text)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "table":
            out.append(_html_table(b))
        elif b.kind == "img":
            data = base64.b64encode(b.png).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(b.text)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{_inline(b.text)}</figcaption></figure>"
            )
    out.append("</body></html>\n")
    return "\n".join(out)
