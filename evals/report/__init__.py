"""The report: report.json (the source of truth), report.md and a self-contained report.html.

Built from an evaluation folder's records (answers / options / bias / swaps .jsonl, meta.json,
build.json) and the run's manifest alone, so `assistant report RUN` regenerates all three
without loading a model.

    build     the records -> the report dict (report.json)
    tables    the tables as rows of strings (report.md, report.html and the app print them)
    notes     the prose printed beside the tables
    markdown  report.md
    charts    the plots (base64 PNG) for report.html
    html      report.html, from the template report.html.j2
    write     writing the three files (pipeline.write_report builds the report first)
"""
from .build import KINDS, STYLE_METRICS, build_report, headline, load_records, read_json, read_jsonl
from .charts import plots
from .html import render_html
from .markdown import render_markdown
from .notes import INJECTION_NOTE, JUDGE_NOTE, judge_notes
from .tables import table_rows
from .write import write_reports

__all__ = ["INJECTION_NOTE", "JUDGE_NOTE", "KINDS", "STYLE_METRICS", "build_report", "headline", "judge_notes",
           "load_records", "plots", "read_json", "read_jsonl", "render_html", "render_markdown",
           "table_rows", "write_reports"]
