"""The validation suite (nbs/idp_validation_suite.ipynb), run by papermill on a fresh local stack as `make test` runs it,
and by `idp-kit validate`.

GIVEN the sample corpus with its expected tables, WHEN the suite runs (routing table, documents through S3 → SNS →
SQS → job → Delta twice, failure policies), THEN its report lists every routing, enrichment and idempotency check
with its outcome and all of them pass; and a failing expectation fails the papermill run and the command.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import papermill as pm
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def test_suite_passes_under_papermill_and_reports_every_check(tmp_path):
    pm.execute_notebook(str(REPO / "nbs" / "idp_validation_suite.ipynb"), str(tmp_path / "executed.ipynb"),
                        parameters={"samples": str(REPO / "nbs" / "samples"), "report_dir": str(tmp_path / "report")},
                        cwd=str(REPO / "nbs"), kernel_name="python3", progress_bar=False)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    groups = {c["group"] for c in report["checks"]}
    assert report["ok"] and groups == {"routing", "documents", "failures", "persistence"}, [c for c in report["checks"] if not c["passed"]]
    names = " | ".join(c["name"] for c in report["checks"])
    # every routing case, every hook's output, idempotency and the failure policies are in the report
    assert sum(c["group"] == "routing" for c in report["checks"]) >= 13
    for hook in ("classification hook", "language hook", "invoice hook", "pii hook"): assert hook in names
    for what in ("second run: no result added", "second run: no result changed", "exactly one new revision",
                 "broken rule file", "hook that raises", "hook that hangs", "parser that crashes"): assert what in names
    md = (tmp_path / "report" / "report.md").read_text()
    assert md.startswith("# Validation report — PASSED") and md.count("| pass |") == len(report["checks"])


def test_a_wrong_expectation_fails_the_command(tmp_path):
    # GIVEN a copy of the corpus whose expected table says the scanned invoice's total is something else
    samples = tmp_path / "samples"
    shutil.copytree(REPO / "nbs" / "samples", samples)
    f = samples / "expected" / "scanned_invoice.png.json"
    f.write_text(f.read_text().replace('"total": "2817.92"', '"total": "9999.99"'))
    # WHEN `idp-kit validate` runs without the stack; THEN it exits 1 and its report names the failed check
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "idp-kit"), "validate", "--samples", str(samples), "--no-stack",
                           "--report", str(tmp_path / "report")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    [failed] = [c for c in report["checks"] if not c["passed"]]
    assert failed["name"].startswith("scanned_invoice.png: invoice fields") and "9999.99" in failed["detail"]
