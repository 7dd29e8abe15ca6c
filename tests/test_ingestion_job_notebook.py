"""The ingestion job's notebook task (nbs/idp_ingestion_job.ipynb), run by papermill against a local stack the way
Databricks runs it: parameters in, the run summary out."""
from __future__ import annotations

import json

import papermill as pm
import pytest

from conftest import REPO
from idp_kit.local import LocalStack
from idp_kit.settings import AwsClients, Settings

pytestmark = pytest.mark.slow


def test_the_notebook_drains_the_queue_and_writes_the_run_summary(tmp_path, monkeypatch):
    with LocalStack(Settings(wait_time_s=0, provisioner="boto3")) as stack:
        # GIVEN uploads on the stack, and a kernel whose environment joins it (as a job cluster's spark_env_vars do)
        s3 = AwsClients(stack.settings, stack.boto3_session())("s3")
        for i in range(3): s3.put_object(Bucket=stack.settings.bucket, Key=f"incoming/job/{i}.txt", Body=f"job {i}".encode())
        for k, v in stack.env().items(): monkeypatch.setenv(k, v)
        out = tmp_path / "summary.json"
        # WHEN papermill runs the notebook with the job's parameters (strings, as widgets are)
        pm.execute_notebook(str(REPO / "nbs" / "idp_ingestion_job.ipynb"), str(tmp_path / "executed.ipynb"),
                            parameters={"max_runtime_s": "120", "max_messages": "0", "until_empty": "true", "output_path": str(out)},
                            cwd=str(tmp_path), kernel_name="python3", progress_bar=False)
    # THEN the run drained the queue: the TestEvent and three documents, and said why it stopped
    summary = json.loads(out.read_text())
    assert (summary["status"], summary["stop_reason"], summary["processed"], summary["ignored"]) == ("succeeded", "drained", 3, 1)
    # AND its last cell showed the recent runs (the same query `idp-kit runs` prints)
    executed = json.loads((tmp_path / "executed.ipynb").read_text())
    [shown] = [c for c in executed["cells"] if "recent_runs(" in "".join(c["source"])]
    assert summary["run_id"] in json.dumps(shown["outputs"])


def test_the_notebook_has_one_parameters_cell_with_the_bundles_parameters():
    import yaml
    nb = json.loads((REPO / "nbs" / "idp_ingestion_job.ipynb").read_text())
    [cell] = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    names = {line.split("=")[0].strip() for line in "".join(cell["source"]).splitlines() if "=" in line}
    bundle = yaml.safe_load((REPO / "infra" / "databricks" / "databricks.yml").read_text())
    assert {p["name"] for p in bundle["resources"]["jobs"]["idp_ingestion"]["parameters"]} == names - {"output_path"}
