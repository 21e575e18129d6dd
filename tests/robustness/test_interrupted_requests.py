"""Issue "Trustworthy runs", item 3: requests cut by the user's stop are "interrupted", not the server's errors.

On Stop in the Locust web UI (or Ctrl-C) the requests in flight are recorded with error_kind "interrupted".
The report counts them per group (tables and summary.json) but leaves them out of the error rate, the SLA
verdicts and the latency figures: a run stopped by hand does not say the server breached its SLA.
"""

from __future__ import annotations

import json
from pathlib import Path

from analysis.__main__ import main
from labkit.records import RequestRecord
from labkit.rundir import RunDir

T0 = 1_795_434_000.0
N_OK, N_CUT = 200, 4


def _records() -> list[RequestRecord]:
    out = []
    for i in range(N_OK):
        t = T0 + i / 10
        out.append(RequestRecord.timed(intended_send_unix_s=t, actual_send_unix_s=t, completion_unix_s=t + 0.02,
                                       run_id="r", request_id=f"q{i}", source="locust", scenario="s",
                                       target="local-server", cold_start=False, model_name="smallcnn",
                                       weights="random"))  # fmt: skip
    for i in range(N_CUT):  # in flight when the user pressed Stop: sent, never answered, no latency
        t = T0 + N_OK / 10 + i / 10
        out.append(RequestRecord(run_id="r", request_id=f"cut{i}", source="locust", scenario="s",
                                 target="local-server", intended_send_unix_s=t, actual_send_unix_s=t, ok=False,
                                 error_kind="interrupted",
                                 error_message="abandoned in flight: the load generator stopped"))  # fmt: skip
    return out


def _stopped_run(root: Path) -> RunDir:
    run = RunDir.create(root, "t", config={"demo": {"rate_rps": 10.0}})
    with run.writer("x") as writer:
        writer.write_all(_records())
    run.finish("interrupted")
    return run


def test_interrupted_requests_are_shown_but_are_not_errors(tmp_path: Path) -> None:
    run = _stopped_run(tmp_path)
    sla = tmp_path / "sla.yaml"
    sla.write_text("default: {p99_ms: 500, error_rate: 0.01}\n")
    assert main([str(run.path), "--sla", str(sla), "--no-plots"]) == 0  # gating: a breach would exit 10
    summary = json.loads((run.path / "summary.json").read_text())
    [group] = summary["groups"]
    assert group["interrupted"] == N_CUT
    assert group["error_rate"] == 0.0 and group["errors"] == {}
    assert group["count"] == N_OK and group["latency_ms"]["count"] == N_OK
    assert group["sla"]["verdict"] == "pass" and summary["sla"]["overall"] == "pass"
    error_check = next(c for c in group["sla"]["checks"] if c["bound"] == "error_rate")
    assert error_check["observed"] == 0.0 and error_check["n"] == N_OK
    markdown = (run.path / "report.md").read_text()
    assert "interrupted" in markdown.split("## Latency")[0]  # the overview says how many were cut
    assert "BREACHES" not in markdown
