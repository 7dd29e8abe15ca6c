"""The production-simulation notebook, run by papermill with the cheap CI parameters."""
from __future__ import annotations

import json
import subprocess

import papermill as pm
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def test_simulation_notebook_runs_and_reports(tmp_path):
    # GIVEN the notebook and small parameters; WHEN papermill runs it top to bottom
    out = tmp_path / "results.json"
    pm.execute_notebook(str(REPO / "nbs" / "idp_production_simulation.ipynb"), str(tmp_path / "executed.ipynb"),
                        parameters={"copies": 1, "wait_time_s": 0, "output_path": str(out)}, cwd=str(tmp_path),
                        kernel_name="python3", progress_bar=False)
    # THEN it wrote a clean report
    report = json.loads(out.read_text())
    assert report["ok"] is True
    assert report["documents_by_status"]["parsed"] >= 6
    assert report["duplicates"] and not report["lost_revisions"]
    # AND it plotted the monitoring queries: every stage has samples, every run is shown, the figure was saved
    assert report["monitoring"]["stages"] == ["fetch", "parse", "queued", "settle"] and report["monitoring"]["runs"] >= 2
    assert (tmp_path / "results.png").stat().st_size > 10_000


def test_notebook_has_exactly_one_parameters_cell():
    nb = json.loads((REPO / "nbs" / "idp_production_simulation.ipynb").read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and "copies" in "".join(tagged[0]["source"])


def test_default_outputs_are_ignored_by_git():
    # GIVEN the notebook's default output path, run from the repository root or from nbs/ as its text suggests
    nb = json.loads((REPO / "nbs" / "idp_production_simulation.ipynb").read_text())
    [params] = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    ns: dict = {}
    exec("".join(params["source"]), ns)
    # THEN git ignores what it writes there, so a run never leaves untracked files that fail the sync check
    for where in (REPO, REPO / "nbs"):
        for path in (ns["output_path"], ".idp-kit/simulation.ipynb"):
            proc = subprocess.run(["git", "check-ignore", "-q", str(where / path)], cwd=REPO)
            assert proc.returncode == 0, f"{where / path} is not ignored by git"
