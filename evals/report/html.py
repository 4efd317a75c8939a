"""report.html: one self-contained page (plots embedded), from the same tables as report.md."""
from __future__ import annotations

from .charts import plots
from .notes import INJECTION_NOTE, JUDGE_NOTE, judge_notes
from .tables import table_rows


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Report {{ r.run.id }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}.rec{background:#eef6ee;border-left:4px solid #3a3;padding:.6em 1em}
.caveat{color:#8a5a00}img{max-width:100%}pre{white-space:pre-wrap;background:#f7f7f7;padding:1em}
</style></head><body>
<h1>Fine-tune or retrieve? Run {{ r.run.id }}</h1>
<p>Corpus <b>{{ r.run.corpus.name }}</b> ({{ r.run.corpus.documents }} documents, {{ r.run.corpus.qa }} Q&amp;A pairs).
Evaluated on {{ r.run.selection }}. Judge: {{ r.run.judge or "none" }}.
Models ran in {{ r.run.precision or "unrecorded precision" }} on {{ r.run.device or "an unrecorded device" }}.</p>
<div class="rec"><h2>Recommendation</h2><p><b>{{ r.recommendation.summary }}</b></p>
<ul>{% for s in r.recommendation.reasons %}<li>{{ s }}</li>{% endfor %}</ul>
{% for c in r.recommendation.caveats %}<p class="caveat">Caveat: {{ c }}</p>{% endfor %}</div>
{% macro table(rows) %}<table><tr>{% for h in rows[0] %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows[1:] %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endmacro %}
<h2>Accuracy</h2><p>Test split, 95% bootstrap intervals, n beside every figure.</p>
{% if p.accuracy %}<img alt="accuracy" src="data:image/png;base64,{{ p.accuracy }}">{% endif %}
{{ table(t.accuracy) }}{% if r.run.judge %}<p>{{ judge_note }}</p>
<ul>{% for s in judge_lines %}<li>{{ s }}</li>{% endfor %}</ul>{% endif %}<h3>Style and retrieval metrics</h3>{{ table(t.metrics) }}
<h3>Closed-form items</h3>{{ table(t.closed) }}<h3>Paired comparisons</h3>{{ table(t.paired) }}
<h2>Bias</h2><p>{{ r.bias.note or ("BBQ probes: %d items per approach." % r.bias.n_probes) }}</p>
{% if p.bias %}<img alt="bias" src="data:image/png;base64,{{ p.bias }}">{% endif %}
{% if t.bbq|length > 1 %}{{ table(t.bbq) }}{% endif %}
<h3>Counterfactual swaps</h3><p>{{ r.bias.swaps_note or "" }}</p>{% if t.swaps|length > 1 %}{{ table(t.swaps) }}{% endif %}
<h2>Overfitting</h2><p>Train sample: {{ r.overfitting.n_train_sample }} train questions asked verbatim.</p>{{ table(t.gap) }}
{% if p.loss %}<img alt="loss curves" src="data:image/png;base64,{{ p.loss }}">{% endif %}
{% if t.loss|length > 1 %}{{ table(t.loss) }}{% endif %}
<h2>Cost</h2>{% if p.cost %}<img alt="cost" src="data:image/png;base64,{{ p.cost }}">{% endif %}
{{ table(t.cost) }}<p>{{ r.update_note or "" }}</p>
{% if t.injection|length > 1 %}<h2>Prompt injection</h2><p>{{ note }}</p>{{ table(t.injection) }}{% endif %}
<h2>The rule</h2><pre>{{ r.rule }}</pre>
</body></html>
"""


def render_html(r: dict) -> str:
    from jinja2 import Environment

    env = Environment(autoescape=True)
    return env.from_string(_HTML).render(r=r, t=table_rows(r), p=plots(r), note=INJECTION_NOTE,
                                         judge_note=JUDGE_NOTE.format(judge=r["run"].get("judge")),
                                         judge_lines=judge_notes(r))
