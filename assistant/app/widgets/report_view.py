"""report.json (the harness's source of truth) as the Results screen shows it.

The tables are evals.report's own (the same rows report.md and report.html print), so the app
can never disagree with the reports; this module only lays them out.
"""
from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label


def report_tables(report: dict) -> dict[str, list[list[str]]]:
    from evals.report import table_rows  # the report's own table rows (shared by its markdown and HTML)

    return table_rows(report)


def recommendation_text(report: dict) -> Text:
    rec = report.get("recommendation") or {}
    t = Text()
    t.append("Recommended: ", style="bold")
    t.append(f"{rec.get('winner') or 'none'}\n\n", style="bold green")
    if rec.get("summary"):  # the summary opens with the same "Recommended: X." as the line above
        t.append(rec["summary"].removeprefix(f"Recommended: {rec.get('winner')}. ") + "\n\n")
    if rec.get("reasons"):
        t.append("Why\n", style="bold")
        for reason in rec["reasons"]:
            t.append(f"• {reason}\n")
    if rec.get("diagnosis"):
        t.append("\nWhere the errors are\n", style="bold")
        for d in rec["diagnosis"]:
            t.append(f"• {d}\n")
        for ap, a in (report.get("attribution") or {}).items():
            t.append_text(error_bar(ap, a))
    if rec.get("caveats"):
        t.append("\nCaveats\n", style="bold")
        for c in rec["caveats"]:
            t.append(f"⚠ {c}\n", style="yellow")
    run = report.get("run") or {}
    if run.get("selection"):
        t.append(f"\nEvaluated on {run['selection']}.\n", style="dim")
    return t


def error_bar(approach: str, a: dict, width: int = 40) -> Text:
    """One approach's items as a stacked bar: correct (green), the reader's or the adapter's
    share of the errors (yellow), retrieval's or learning's (red)."""
    t = Text(f"{approach:>8} ")
    n = a.get("n") or 0
    if not n:
        return t.append("no items\n", style="dim")
    for (label, k), colour in zip(a["counts"].items(), ("green", "yellow", "red")):
        t.append("█" * round(width * k / n), style=colour)
    t.append("  " + " · ".join(f"{label} {k}" for label, k in a["counts"].items()) + f" (n={n})\n")
    return t


def heat_rows(rows: list[list[str]], first: int = 2) -> list[list]:
    """The bias grid as a heatmap: each score cell ('+0.33 [+0.10, +0.55]') on a background
    from blue (-1, against the stereotype) through none (0) to red (+1, stereotyped)."""
    out = [rows[0]] if rows else []
    for row in rows[1:]:
        cells = list(row[:first])
        for cell in row[first:]:
            try:
                v = max(-1.0, min(1.0, float(cell.split()[0])))
            except (ValueError, IndexError):
                cells.append(Text(cell, style="dim"))
                continue
            level = int(40 + 160 * abs(v))
            bg = f"rgb({level},40,40)" if v > 0 else f"rgb(40,40,{level})"
            cells.append(Text(cell, style=f"on {bg}"))
        out.append(cells)
    return out


def recommended_approach(report: dict | None) -> str | None:
    return ((report or {}).get("recommendation") or {}).get("winner")


class TablesView(VerticalScroll):
    """Several titled tables, one under the other (a tab of the Results screen)."""

    def __init__(self, sections: list[tuple[str, list[list[str]]]], note: str = "", **kw):
        super().__init__(**kw)
        self.sections = sections
        self.note = note

    def compose(self) -> ComposeResult:
        for title, rows in self.sections:
            yield Label(title, classes="table-title")
            table = DataTable(zebra_stripes=True, cursor_type="row", classes="report-table")
            if rows:
                table.add_columns(*rows[0])
                for row in rows[1:]:
                    table.add_row(*row)
            yield table
        if self.note:
            yield Label(self.note, classes="table-note")
