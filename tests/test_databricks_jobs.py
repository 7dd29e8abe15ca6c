"""The Databricks jobs of `infra/databricks/databricks.yml` and `idp-kit deploy databricks`, through the real
databricks-sdk against the Jobs emulator: every job of every target loads into `JobSettings` with no field lost,
mistakes are named, deploying is idempotent by name, the bundle and the workspace define the same jobs, and job runs
really run the `idp-kit` console script (on the local stack, with the stack's settings)."""
from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import JobSettings, PythonWheelTask, RunLifeCycleState, RunResultState, Task

from conftest import REPO
from idp_kit.databricks_deploy import (BUNDLE_FILE, Action, BundleError, DeployError, bundle_job_settings,
                                       deploy_databricks, resolve_bundle, round_trip_problems, settings_differences,
                                       type_problems)
from idp_kit.databricks_emulator import DatabricksEmulator
from idp_kit.local import LocalStack
from idp_kit.settings import Settings

BUNDLE = REPO / "infra" / "databricks"
INGESTION_NOTEBOOK = REPO / "nbs" / "idp_ingestion_job.ipynb"
TARGETS = list(yaml.safe_load((BUNDLE / BUNDLE_FILE).read_text())["targets"])
JOBS = ["idp_ingestion", "idp_tables", "idp_worker"]
LONG_ENOUGH = timedelta(seconds=60)  # `.result()` polls after 1 s, 2 s, ...: runs of `idp-kit schema` take two polls


@pytest.fixture
def workspace() -> Iterator[WorkspaceClient]:
    "A fresh Jobs emulator (no SQL warehouse, no Spark) and the SDK's client for it."
    with DatabricksEmulator(Settings(), token="dapi-jobs-test", warehouse_id=None) as emu:
        yield emu.workspace_client()


def bundle_copy(tmp_path: Path, text: str) -> Path:
    "A repository layout in `tmp_path` holding `text` as the bundle and a stand-in ingestion notebook; the bundle's directory."
    (tmp_path / "infra" / "databricks").mkdir(parents=True)
    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "idp_ingestion_job.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (tmp_path / "infra" / "databricks" / BUNDLE_FILE).write_text(text)
    return tmp_path / "infra" / "databricks"


@pytest.mark.parametrize("target", TARGETS)
def test_every_job_of_the_bundle_loads_into_job_settings_with_no_field_lost(target):
    # GIVEN the repository's bundle (and the ingestion notebook it deploys)
    assert INGESTION_NOTEBOOK.is_file(), f"the bundle deploys {INGESTION_NOTEBOOK.relative_to(REPO)}, which is missing"
    # WHEN every job is resolved for the target
    resolved = resolve_bundle(BUNDLE, target)
    # THEN each fits JobSettings' types exactly and survives JobSettings.from_dict(...).as_dict() unchanged
    assert sorted(resolved) == JOBS
    for key, job in resolved.items():
        assert type_problems(job.settings, JobSettings, key) == []
        assert round_trip_problems(job.settings, key) == []
        assert JobSettings.from_dict(job.settings).as_dict() == job.settings
    assert sorted(bundle_job_settings(BUNDLE, target)) == JOBS


def test_the_jobs_run_what_the_issue_asks_with_the_kits_settings_as_environment_variables():
    # GIVEN the dev jobs
    jobs = bundle_job_settings(BUNDLE, "dev")
    worker, tables, ingestion = jobs["idp_worker"], jobs["idp_tables"], jobs["idp_ingestion"]
    # THEN the worker is the idp-kit console script with the units parameter, queued past its concurrency limit
    assert (worker.tasks[0].python_wheel_task.package_name, worker.tasks[0].python_wheel_task.entry_point) == ("idp_kit", "idp-kit")
    assert worker.tasks[0].python_wheel_task.parameters == ["worker", "--units", "{{job.parameters.units}}"]
    assert (worker.queue.enabled, worker.max_concurrent_runs) == (True, 4)
    assert tables.tasks[0].python_wheel_task.parameters == ["tables", "ensure"]
    # AND the poller is the notebook on a job cluster, its parameters the notebook's widgets (the `parameters` cell's names)
    assert ingestion.tasks[0].notebook_task.notebook_path.endswith("/files/nbs/idp_ingestion_job")
    notebook = json.loads((REPO / "nbs" / "idp_ingestion_job.ipynb").read_text())
    [params] = ["".join(c["source"]) for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    declared = [line.split("=")[0].strip() for line in params.splitlines() if "=" in line]
    assert sorted(p.name for p in ingestion.parameters) == sorted(n for n in declared if n != "output_path")
    # AND every task gets the IDP_* settings, with a three-part table namespace
    cluster_env = ingestion.job_clusters[0].new_cluster.spark_env_vars
    serverless_env = worker.environment_variables[0].spec.variables
    assert cluster_env == serverless_env == tables.environment_variables[0].spec.variables
    assert cluster_env["IDP_DELTA_SCHEMA"] == "main.idp_kit_dev" and cluster_env["IDP_DELTA_SCHEMA"].count(".") == 1


def test_an_unknown_key_a_wrong_type_and_an_unknown_enum_value_are_named(tmp_path):
    # GIVEN the bundle with three mistakes JobSettings.from_dict would swallow silently
    text = (BUNDLE / BUNDLE_FILE).read_text()
    text = text.replace("      max_concurrent_runs: 1\n", "      max_concurrent_runs: \"1\"\n", 1)
    text = text.replace("          notebook_task:\n", "          retry_on_timout: true\n          notebook_task:\n", 1)
    text = text.replace("pause_status: ${var.ingestion_schedule_pause}", "pause_status: SOMETIMES", 1)
    # WHEN it is loaded, THEN each is named with its path, and nothing is deployed
    with pytest.raises(BundleError) as e:
        bundle_job_settings(bundle_copy(tmp_path, text), "dev")
    message = str(e.value)
    assert "resources.jobs.idp_ingestion.max_concurrent_runs: expected int, got str '1'" in message
    assert "resources.jobs.idp_ingestion.tasks[0].retry_on_timout: not a field of Task (did you mean retry_on_timeout?)" in message
    assert "resources.jobs.idp_ingestion.schedule.pause_status: 'SOMETIMES' is not a PauseStatus" in message


def test_a_notebook_outside_the_sync_root_and_an_unknown_reference_are_refused(tmp_path):
    text = (BUNDLE / BUNDLE_FILE).read_text()
    with pytest.raises(BundleError, match="outside the sync root"):
        resolve_bundle(bundle_copy(tmp_path / "a", text.replace("    - ../../nbs\n", "    - .\n")), "dev")
    with pytest.raises(BundleError, match=r"unknown reference \$\{var.catalogue\}"):
        resolve_bundle(bundle_copy(tmp_path / "b", text.replace("${var.catalog}.${var.schema}", "${var.catalogue}.x", 1)), "dev")


def test_deploying_twice_creates_each_job_once_and_a_changed_setting_updates_its_job(workspace):
    # GIVEN an empty workspace; WHEN the dev target is deployed twice
    first = deploy_databricks(BUNDLE, "dev", client=workspace)
    second = deploy_databricks(BUNDLE, "dev", client=workspace)
    # THEN the first creates the three jobs, the second changes nothing, and each name exists once
    assert [(d.key, d.action) for d in first] == [("idp_ingestion", Action.CREATED), ("idp_worker", Action.CREATED),
                                                  ("idp_tables", Action.CREATED)]
    assert [(d.job_id, d.action) for d in second] == [(d.job_id, Action.UNCHANGED) for d in first]
    assert [len(list(workspace.jobs.list(name=d.name))) for d in first] == [1, 1, 1]
    # WHEN one setting changes; THEN its job alone is reset in place, once
    changed = deploy_databricks(BUNDLE, "dev", client=workspace, variables={"worker_max_concurrent_runs": "8"})
    assert [(d.key, d.action) for d in changed if d.action is not Action.UNCHANGED] == [("idp_worker", Action.UPDATED)]
    assert changed[1].changes == ("max_concurrent_runs: 8 in the bundle, 4 deployed",)
    assert workspace.jobs.get(first[1].job_id).settings.max_concurrent_runs == 8
    again = deploy_databricks(BUNDLE, "dev", client=workspace, variables={"worker_max_concurrent_runs": "8"})
    assert {d.action for d in again} == {Action.UNCHANGED}


@pytest.mark.parametrize("target", TARGETS)
def test_the_bundle_and_the_deployed_jobs_define_the_same_jobs(workspace, target):
    # GIVEN the target deployed with idp-kit deploy databricks
    deployed = deploy_databricks(BUNDLE, target, client=workspace)
    bundle = bundle_job_settings(BUNDLE, target)
    # THEN every job read back from the workspace is the bundle's, up to the defaults Databricks adds when storing
    assert {d.key for d in deployed} == set(bundle)
    for d in deployed:
        assert settings_differences(bundle[d.key].as_dict(), workspace.jobs.get(d.job_id).settings.as_dict()) == []
    # AND a dry run after it has nothing to do
    assert {d.action for d in deploy_databricks(BUNDLE, target, client=workspace, dry_run=True)} == {Action.UNCHANGED}


def test_two_jobs_of_one_name_stop_the_deploy_before_it_changes_anything(workspace):
    twins = [workspace.jobs.create(name="idp-worker-dev").job_id for _ in range(2)]
    with pytest.raises(DeployError, match=r"'idp-worker-dev': job ids \[") as e:
        deploy_databricks(BUNDLE, "dev", client=workspace)
    assert all(str(t) in str(e.value) for t in twins)
    assert [j.settings.name for j in workspace.jobs.list()] == ["idp-worker-dev"] * 2  # nothing was created


def test_a_wheel_task_of_the_idp_kit_console_script_runs_through_the_emulator(workspace):
    # GIVEN two jobs running the installed idp-kit console script, one that succeeds and one that fails
    def job(*parameters: str) -> int:
        task = Task(task_key="main", python_wheel_task=PythonWheelTask(package_name="idp_kit", entry_point="idp-kit",
                                                                       parameters=list(parameters)))
        return workspace.jobs.create(name=f"idp-kit {' '.join(parameters)}", tasks=[task]).job_id
    # WHEN each is run and waited for with the SDK
    ok = workspace.jobs.run_now(job("schema")).result(timeout=LONG_ENOUGH)
    bad = workspace.jobs.run_now(job("parse", "/nonexistent")).result(timeout=LONG_ENOUGH)
    # THEN the first succeeded and printed the schema; the second failed, and says why where a caller looks
    assert (ok.state.life_cycle_state, ok.state.result_state) == (RunLifeCycleState.TERMINATED, RunResultState.SUCCESS)
    assert json.loads(workspace.jobs.get_run_output(ok.tasks[0].run_id).logs)["title"] == "CanonicalDocument"
    assert (bad.state.life_cycle_state, bad.state.result_state) == (RunLifeCycleState.TERMINATED, RunResultState.FAILED)
    assert "/nonexistent: no such file" in bad.state.state_message
    assert workspace.jobs.get_run_output(bad.tasks[0].run_id).error == "idp-kit: parse: /nonexistent: no such file"


@pytest.mark.slow
def test_job_runs_on_the_local_stack_join_the_stack_with_its_settings(tmp_path):
    # GIVEN a local stack with a setting of its own, and its Databricks emulator
    with LocalStack(Settings(bucket="jobs-on-the-stack"), provision=False) as stack:
        env = stack.env()
        w = WorkspaceClient(host=env["DATABRICKS_HOST"], token=env["DATABRICKS_TOKEN"])
        task = Task(task_key="status", python_wheel_task=PythonWheelTask(package_name="idp_kit", entry_point="idp-kit",
                                                                         parameters=["local", "status"]))
        # WHEN a job run asks the stack how it is
        run = w.jobs.run_now(w.jobs.create(name="stack status", tasks=[task]).job_id).result(timeout=LONG_ENOUGH)
        status, pid = json.loads(w.jobs.get_run_output(run.tasks[0].run_id).logs), stack.pid
    # THEN the run found this stack running, with the launcher's settings and the stack's endpoints
    assert run.state.result_state == RunResultState.SUCCESS
    assert (status["status"], status["pid"]) == ("running", pid)
    assert status["env"]["IDP_BUCKET"] == "jobs-on-the-stack"
    assert status["env"]["AWS_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"]
    assert status["env"]["DATABRICKS_HOST"] == env["DATABRICKS_HOST"]
