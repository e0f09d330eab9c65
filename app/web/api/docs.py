"""/api/v1/docs: the OpenAPI document rendered as one HTML page, generated here (no CDN)."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, render_template_string

bp = Blueprint("api_docs_page", __name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ spec.info.title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
code,pre{background:#f4f4f4;padding:.1em .3em}pre{padding:.6em;overflow:auto}
h2{border-bottom:1px solid #ccc}.op{margin:1.2em 0}.m{font-weight:bold;text-transform:uppercase}
details{margin:.3em 0}
</style></head><body>
<h1>{{ spec.info.title }} {{ spec.info.version }}</h1>
<p>{{ spec.info.description }}</p>
<p>The machine-readable document: <a href="openapi.json">openapi.json</a> (OpenAPI
{{ spec.openapi }}). A guide with curl examples is docs/api.md in the repository.</p>
{% for path, ops in spec.paths.items() %}{% for method, op in ops.items() %}
{% if method in methods %}<div class="op"><h2><span class="m">{{ method }}</span>
<code>{{ path }}</code></h2><p>{{ op.summary }}</p>
{% if op.description %}<p>{{ op.description }}</p>{% endif %}
{% for p in op.parameters or [] %}<div><code>{{ p.name }}</code> ({{ p["in"] }}{% if
p.required %}, required{% endif %}): <code>{{ p.schema | tojson }}</code></div>{% endfor %}
{% if op.requestBody %}<details><summary>request body</summary>
<pre>{{ op.requestBody | tojson(indent=1) }}</pre></details>{% endif %}
<details><summary>responses: {{ op.responses.keys() | join(", ") }}</summary>
<pre>{{ op.responses | tojson(indent=1) }}</pre></details></div>{% endif %}
{% endfor %}{% endfor %}
<h2>Schemas</h2>
{% for name, schema in spec.components.schemas.items() %}<details><summary>{{ name }}</summary>
<pre>{{ schema | tojson(indent=1) }}</pre></details>{% endfor %}
</body></html>"""


@bp.get("/api/v1/docs")
def docs_page():
    """The API reference, from the same spec /api/v1/openapi.json serves."""
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    spec = json.loads(json.dumps(api.spec.to_dict(), default=str))
    return render_template_string(PAGE, spec=spec,
                                  methods=("get", "post", "put", "patch", "delete"))
