"""Writing the three files: report.json (the source of truth), report.md and report.html."""
from __future__ import annotations

from pathlib import Path

from assistant.files import write_json, write_text

from .html import render_html
from .markdown import render_markdown


def write_reports(report: dict, folder: Path) -> list[Path]:
    folder = Path(folder)
    paths = [write_json(folder / "report.json", report), write_text(folder / "report.md", render_markdown(report)),
             write_text(folder / "report.html", render_html(report))]
    return paths
