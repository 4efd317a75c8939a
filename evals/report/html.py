"""report.html: one self-contained page (plots embedded), from the same tables as report.md."""
from __future__ import annotations

from .charts import plots
from .notes import INJECTION_NOTE, JUDGE_NOTE, judge_notes
from .tables import table_rows

TEMPLATE = "report.html.j2"  # beside this module; installs carry it (package-data)


def render_html(r: dict) -> str:
    from jinja2 import Environment, PackageLoader

    env = Environment(loader=PackageLoader("evals.report", "."), autoescape=True)
    return env.get_template(TEMPLATE).render(r=r, t=table_rows(r), p=plots(r), note=INJECTION_NOTE,
                                             judge_note=JUDGE_NOTE.format(judge=r["run"].get("judge")),
                                             judge_lines=judge_notes(r))
