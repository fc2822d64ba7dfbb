"""The page every report is: one self-contained HTML file, Plotly's JavaScript embedded.

A report opens offline (no CDN, no external file) and from a file:// URL. Each page embeds
plotly.js once (≈4.8 MB), then its figures (``fig.to_json()`` data, drawn by one small loader
script), metric tiles and tables. Tables sort on a header click and filter by a text box, in a
few lines of vanilla JavaScript. Nothing here knows about backtests: the report modules build
the figures and rows.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "escape",
    "figure_block",
    "metric_tiles",
    "page",
    "plotly_js",
    "table_block",
]


def escape(value: Any) -> str:
    """Text for HTML (attributes included)."""
    return html.escape("" if value is None else str(value), quote=True)


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.js, minified, as shipped with the ``plotly`` package (read once per process).

    Raises:
        ImportError: plotly is not installed (``pip install hbbacktest[report]``).
    """
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - plotly is a dependency
        raise ImportError(
            "reports need plotly: pip install 'hbbacktest[report]' (or pip install plotly)"
        ) from exc
    return str(get_plotlyjs())


_CSS = """
:root { color-scheme: light; --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #f6f8fa;
        --good: #1a7f37; --bad: #cf222e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0; padding: 16px 24px 48px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.sub { color: var(--muted); margin: 0 0 12px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
.tile { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; background: #fff; }
.tile .k { color: var(--muted); font-size: 12px; } .tile .v { font-size: 18px; font-weight: 600; }
.tile .v.good { color: var(--good); } .tile .v.bad { color: var(--bad); }
.figure { width: 100%; border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; }
.notes { background: #fff8c5; border: 1px solid #d4a72c66; border-radius: 6px; padding: 8px 12px; }
.notes li { margin: 2px 0; }
.table-tools { display: flex; gap: 8px; align-items: center; margin: 6px 0; }
.table-tools input { padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px;
                     min-width: 240px; }
.table-wrap { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right;
         white-space: nowrap; }
th { position: sticky; top: 0; background: var(--bg); cursor: pointer; user-select: none; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
td.text, th.text { text-align: left; }
a { color: #0969da; }
"""

# Draws every figure from its JSON (one <script type="application/json"> each), and makes
# tables sortable and filterable. Plain ES2017: no build step, no network.
_JS = """
(function () {
  function draw() {
    document.querySelectorAll('script[type="application/json"][data-figure]').forEach(function (el) {
      var spec = JSON.parse(el.textContent);
      var target = document.getElementById(el.dataset.figure);
      Plotly.newPlot(target, spec.data, spec.layout, Object.assign({responsive: true,
        displaylogo: false}, spec.config || {}));
    });
  }
  function cellValue(td) {
    var raw = td.dataset.v !== undefined ? td.dataset.v : td.textContent;
    var n = parseFloat(raw);
    return isNaN(n) || !/^[-+0-9.eE]+$/.test(raw.trim()) ? raw.toLowerCase() : n;
  }
  function tables() {
    document.querySelectorAll('table[data-sortable]').forEach(function (table) {
      var body = table.tBodies[0];
      table.querySelectorAll('th').forEach(function (th, col) {
        th.addEventListener('click', function () {
          var asc = !th.classList.contains('sorted-asc');
          table.querySelectorAll('th').forEach(function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
          th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
            if (x === y) return 0;
            return (x < y ? -1 : 1) * (asc ? 1 : -1);
          });
          rows.forEach(function (r) { body.appendChild(r); });
        });
      });
    });
    document.querySelectorAll('input[data-filter]').forEach(function (input) {
      var table = document.getElementById(input.dataset.filter);
      var count = document.getElementById(input.dataset.filter + '-count');
      input.addEventListener('input', function () {
        var q = input.value.trim().toLowerCase(), shown = 0;
        Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
          var ok = !q || r.textContent.toLowerCase().indexOf(q) >= 0;
          r.style.display = ok ? '' : 'none'; if (ok) shown++;
        });
        if (count) count.textContent = shown + ' shown';
      });
    });
  }
  document.addEventListener('DOMContentLoaded', function () { draw(); tables(); });
})();
"""


def page(
    title: str,
    sections: Iterable[str],
    *,
    subtitle: str | None = None,
    with_plotly: bool = True,
    plotly_src: str | None = None,
) -> str:
    """A whole HTML document: the title, then each section's HTML, in order.

    Args:
        title: the page's title and heading.
        sections: HTML fragments (from :func:`figure_block`, :func:`metric_tiles`,
            :func:`table_block`, or the caller's own, already escaped).
        subtitle: a line under the heading (escaped here).
        with_plotly: embed plotly.js (pages without figures can leave it out).
        plotly_src: load plotly.js from this URL instead of embedding it (the web UI serves
            it once, cached, for all its pages); the page is then not self-contained.
    """
    if plotly_src is not None:
        head_js = f'<script src="{escape(plotly_src)}"></script>'
    else:
        head_js = f"<script>{plotly_js()}</script>" if with_plotly else ""
    sub = f'<p class="sub">{escape(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style>{head_js}"
        f"<script>{_JS}</script></head><body>"
        f"<h1>{escape(title)}</h1>{sub}{''.join(sections)}</body></html>\n"
    )


def figure_block(
    figure: Any, div_id: str, *, height_px: int = 520, title: str | None = None
) -> str:
    """A Plotly figure, drawn from its JSON when the page loads.

    Args:
        figure: a ``plotly.graph_objects.Figure``.
        div_id: the element id (unique in the page; tests and links find the chart by it).
        height_px: the chart's height.
        title: a section heading above it.
    """
    spec = figure.to_json()
    # "</" inside a <script> would end it early: JSON allows "<\\/".
    spec = spec.replace("</", "<\\/")
    heading = f"<h2>{escape(title)}</h2>" if title else ""
    return (
        f'{heading}<div id="{escape(div_id)}" class="figure" style="height:{int(height_px)}px"></div>'
        f'<script type="application/json" data-figure="{escape(div_id)}">{spec}</script>'
    )


def metric_tiles(items: Sequence[tuple[str, str, str | None]], *, title: str | None = None) -> str:
    """Metric tiles: ``(label, formatted value, "good" | "bad" | None)`` each."""
    tiles = "".join(
        f'<div class="tile"><div class="k">{escape(label)}</div>'
        f'<div class="v{" " + tone if tone else ""}">{escape(value)}</div></div>'
        for label, value, tone in items
    )
    heading = f"<h2>{escape(title)}</h2>" if title else ""
    return f'{heading}<div class="tiles">{tiles}</div>'


def table_block(
    table_id: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    text_columns: Iterable[str] = (),
    links: Mapping[int, Sequence[str | None]] | None = None,
) -> str:
    """A sortable, filterable table.

    Args:
        table_id: the element id.
        columns: header labels.
        rows: cell values (numbers are formatted with up to 6 significant digits and keep
            their exact value for sorting).
        title: a section heading above it.
        text_columns: labels of left-aligned (text) columns.
        links: column index → one href per row (None: no link), to make cells links.
    """
    text = set(text_columns)
    head = "".join(f'<th class="{"text" if c in text else ""}">{escape(c)}</th>' for c in columns)
    body = []
    count = 0
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            shown = _cell(value)
            href = links[c][r] if links and c in links else None
            inner = f'<a href="{escape(href)}">{escape(shown)}</a>' if href else escape(shown)
            klass = ' class="text"' if columns[c] in text else ""
            exact = f' data-v="{escape(value)}"' if isinstance(value, int | float) else ""
            cells.append(f"<td{klass}{exact}>{inner}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
        count += 1
    heading = f"<h2>{escape(title)}</h2>" if title else ""
    return (
        f'{heading}<div class="table-tools"><input type="search" placeholder="filter rows…" '
        f'data-filter="{escape(table_id)}" aria-label="filter {escape(title or table_id)}">'
        f'<span id="{escape(table_id)}-count">{count} rows</span></div>'
        f'<div class="table-wrap"><table id="{escape(table_id)}" data-sortable>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
