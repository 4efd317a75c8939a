"""The report: report.json (the source of truth), report.md and a self-contained report.html.

Built from an evaluation folder's records (answers / options / bias / swaps .jsonl, meta.json,
build.json) and the run's manifest alone, so `assistant report RUN` regenerates all three
without loading a model.
"""
from .build import (INJECTION_NOTE, JUDGE_NOTE, KINDS, STYLE_METRICS, _tables, build_report, headline,
                    judge_notes, load_records, read_json, read_jsonl, render_markdown)
from .charts import plots
from .html import render_html
from .write import regenerate, write_reports

__all__ = ["INJECTION_NOTE", "JUDGE_NOTE", "KINDS", "STYLE_METRICS", "_tables", "build_report", "headline",
           "judge_notes", "load_records", "plots", "read_json", "read_jsonl", "regenerate", "render_html",
           "render_markdown", "write_reports"]
