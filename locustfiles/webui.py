"""The lab's own form in Locust's web UI (`locust` in the repo root), through Locust's extension points only.

At `init` (when there is a web UI): a template `index.html` that is Locust's own page plus the lab's script
and style (templates/index.html, static/webui.js, static/webui.css), a `lab` template variable (the form's
current values, the configured targets with their URLs, the last run), and these routes:
  GET /lab/state                        the same `lab` data as JSON (the page polls it during a test)
  GET /lab/runs/<id>/report.html        a finished run's report (and report.md, summary.json, plots/*.png)
  GET /lab/static/...                   the script and style
  GET /favicon.ico                      Locust's icon (the browser asks for it on the report's page)
The script puts the lab's form (shape, rate, duration, target, model) first, keeps Locust's users / ramp-up
out of the way (the rate is in the schedule), starts tests through Locust's own POST /swarm with the same
`lab_*` fields as the `--lab-*` options, shows the real target URL in the header and links the report.
Before Locust handles a POST /swarm: another model than the local cloud serves restarts it with that model
(labcloud.switch_model), and the last test's refusal is forgotten.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_from_directory
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from labkit.config import MODEL_NAMES, load_config
from labkit.errors import LabError
from locustfiles import labcloud
from locustfiles.shapes import SHAPE_NAMES

log = logging.getLogger("loadlab")
HERE = Path(__file__).resolve().parent
TEMPLATES, STATIC = HERE / "templates", HERE / "static"
# the options the lab's form edits (names as in Locust's parsed options and its POST /swarm form)
FORM_OPTIONS = ("lab_shape", "lab_rate_rps", "lab_duration_s", "lab_target", "lab_step_count", "lab_base_rps",
                "lab_spike_at_s", "lab_spike_s", "lab_trace", "lab_max_inflight", "lab_yes_remote")  # fmt: skip
RUN_FILES = re.compile(r"report\.html|report\.md|summary\.json|plots/[\w.-]+\.(png|svg)")
_last: dict[str, Any] = {}  # the last test this web UI saw: run_dir, target, url, finished


def _on_init(environment: Any, web_ui: Any = None, **_kwargs: Any) -> None:
    if web_ui is not None and getattr(web_ui, "app", None) is not None:
        install(environment, web_ui)


def install(environment: Any, web_ui: Any) -> None:
    """Serve the lab's page, routes and per-test bookkeeping on this web UI."""
    app = web_ui.app
    locust_pages = FileSystemLoader(app.template_folder)
    app.jinja_env.loader = ChoiceLoader([FileSystemLoader(TEMPLATES), PrefixLoader({"locust": locust_pages}),
                                         app.jinja_env.loader])  # fmt: skip
    app.context_processor(lambda: {"lab": page_args(environment)})
    lab = Blueprint("lab", __name__, static_folder=STATIC, static_url_path="/lab/static")
    guard = web_ui.auth_required_if_enabled
    lab.add_url_rule("/lab/state", "state", guard(lambda: jsonify(page_args(environment))))
    lab.add_url_rule("/lab/runs/<run_id>/<path:name>", "run_file", guard(lambda run_id, name: run_file(
        environment, run_id, name)))  # fmt: skip
    assets = Path(app.template_folder) / "assets"  # the browser asks every page's origin for /favicon.ico
    lab.add_url_rule("/favicon.ico", "favicon", lambda: send_from_directory(assets, "favicon-light.png"))
    app.register_blueprint(lab)
    app.before_request(lambda: _switch_model(environment))
    # added now, after every locustfile's import-time listeners: they see the run dir made / the report written
    environment.events.test_start.add_listener(lambda **_kw: _remember_test(environment))
    environment.events.test_stop.add_listener(lambda **_kw: _last.update(finished=True))


def _remember_test(environment: Any) -> None:
    opts = environment.parsed_options
    _last.clear()
    _last.update(run_dir=str(getattr(opts, "lab_run_dir", "") or ""), target=str(getattr(opts, "lab_target", "")),
                 url=str(getattr(opts, "lab_url", "") or ""), finished=False)  # fmt: skip


def runs_root(environment: Any) -> Path:
    return Path(getattr(environment.parsed_options, "lab_runs_root", "runs") or "runs").resolve()


def run_file(environment: Any, run_id: str, name: str) -> Response:
    """A file of a run's report (only those: a run dir also holds records and logs)."""
    if not RUN_FILES.fullmatch(name) or run_id.startswith("."):
        abort(404)
    return send_from_directory(runs_root(environment) / run_id, name, max_age=0)


def page_args(environment: Any) -> dict[str, Any]:
    """What the lab's script needs: the form's values and choices, the targets, the last run, the state."""
    opts, runner = environment.parsed_options, environment.runner
    values = {name: getattr(opts, name, "") for name in FORM_OPTIONS} if opts is not None else {}
    targets = target_list(environment)
    selected = next((t for t in targets if t["name"] == values.get("lab_target")), None)
    return {
        "state": getattr(runner, "state", ""),
        "workers": _worker_count(runner),
        "values": values,
        "choices": {"lab_shape": list(SHAPE_NAMES), "lab_target": [t["name"] for t in targets]},
        "targets": targets,
        "model": labcloud.model_name() or str(getattr(opts, "lab_model", "") or ""),
        "models": list(MODEL_NAMES),
        "host": str(environment.host or ""),
        "url": _last.get("url") if _last and not _last.get("finished") else (selected or {}).get("url", ""),
        "last_run": last_run(environment),
        "refused": _refused(),
    }


def _worker_count(runner: Any) -> int | None:
    """Connected workers of a master (None when this process runs the load itself)."""
    from locust.runners import MasterRunner

    return int(runner.worker_count) if isinstance(runner, MasterRunner) else None


def target_list(environment: Any) -> list[dict[str, str]]:
    """The configured targets (config/targets.yaml) with the URL each would get now, or why it has none."""
    try:
        config = load_config()
    except LabError as exc:
        log.error("config/targets.yaml: %s", exc)
        return []
    out = []
    for name, target in config.targets.items():
        url, problem = "", ""
        try:
            url = labcloud.url_for(name) or ("" if target.is_local else str(environment.host or ""))
        except LabError as exc:
            problem = str(exc)
        out.append({"name": name, "kind": target.kind, "url": url, "problem": problem})
    return out


def last_run(environment: Any) -> dict[str, Any]:
    """The last test's run dir and, once it is written, the link to its report."""
    run_dir = str(_last.get("run_dir", "") or "")
    if not run_dir:
        return {}
    path = Path(run_dir)
    root = runs_root(environment)
    served = path.resolve().parent == root
    report = path / "report.html"
    return {"run_dir": run_dir, "run_id": path.name, "target": _last.get("target", ""), "url": _last.get("url", ""),
            "finished": bool(_last.get("finished")), "report_path": str(report),
            "report_url": f"/lab/runs/{path.name}/report.html" if served and report.is_file() else ""}  # fmt: skip


def _switch_model(environment: Any) -> Response | None:
    """POST /swarm with another model than the local cloud serves: restart it with that one first."""
    model = request.form.get("lab_model", "") if request.method == "POST" else ""
    if not model or not request.path.rstrip("/").endswith("/swarm") or _busy(environment):
        return None
    try:
        labcloud.switch_model(model)
    except LabError as exc:
        return jsonify({"success": False, "message": f"the local cloud did not start with model {model}: {exc}"})
    return None


def _busy(environment: Any) -> bool:
    from locust.runners import STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING

    return getattr(environment.runner, "state", "") in (STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING)


def _refused() -> str:
    from locustfiles.inference import STATE

    return str(STATE.refused or STATE.last_refusal or "")


def _register() -> None:
    from locust import events

    events.init.add_listener(_on_init)


_register()
