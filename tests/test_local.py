"""The embedded local stack, end to end: isolation of side-by-side stacks, Delta through Sail, the
`local up|status|down` daemon, and that nothing outlives the stack (processes, ports, files)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from idp_kit.local import STATE_FILE, LocalStack, _listening, _pid_alive, local_down, local_status, local_up, require_local_extra
from idp_kit.settings import Settings, aws_client_kwargs
from idp_kit.spark import DATABRICKS_ENV, spark_session

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


def children(pid: int) -> list[int]:
    "Live child processes of `pid` (via pgrep, on Linux and macOS); zombies are reaped first."
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out if _pid_alive(int(p))]


def stack_ports(state: dict) -> list[int]:
    return [state["moto_port"], state["spark_port"]]


def gone(pid: int, ports: list[int], timeout: float = 10.0) -> bool:
    "True once `pid` has exited and no port in `ports` accepts connections."
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) or any(_listening(p) for p in ports):
        if time.monotonic() >= deadline: return False
        time.sleep(0.1)
    return True


def received_keys(stack: LocalStack) -> list[str]:
    "Decoded object keys of the S3 events waiting in the stack's ingest queue (test events skipped)."
    sqs = stack.boto3_session().client("sqs", **aws_client_kwargs(stack.settings))
    url = stack.resources.queue(stack.settings.ingest_queue).url
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    events = [json.loads(json.loads(m["Body"])["Message"]) for m in msgs]
    return sorted(unquote_plus(r["s3"]["object"]["key"]) for e in events for r in e.get("Records", []))


def delta_merge_roundtrip(stack: LocalStack, name: str) -> list[tuple]:
    "Create a Delta table with a timestamp column, MERGE into it twice, re-run CREATE IF NOT EXISTS; return its rows."
    spark, loc = stack.spark(), f"{stack.settings.delta_location}/{name}"
    ddl = f"CREATE TABLE IF NOT EXISTS {name} (id STRING, n INT, seen_at TIMESTAMP) USING DELTA LOCATION '{loc}'"
    spark.sql(ddl)
    for n in (1, 2):
        spark.sql(f"""MERGE INTO {name} t USING (SELECT 'a' AS id, {n} AS n, current_timestamp() AS seen_at) s ON t.id = s.id
                      WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *""")
    spark.sql(ddl)  # an existing table with a TIMESTAMP column: fails unless the session zone is UTC
    return [(r.id, r.n) for r in spark.sql(f"SELECT id, n FROM {name}").collect()]


def test_two_stacks_side_by_side_are_isolated_and_leave_nothing_behind():
    # GIVEN two stacks with the *same* resource names, running at once
    before = set(children(os.getpid()))
    with contextlib.ExitStack() as es:
        a, b = es.enter_context(LocalStack()), es.enter_context(LocalStack())
        assert a.moto_endpoint != b.moto_endpoint and a.spark_remote != b.spark_remote
        assert a.settings.bucket == b.settings.bucket
        # WHEN each receives an upload under the watched prefix
        for stack, key in ((a, "incoming/only in a.pdf"), (b, "incoming/only in b.pdf")):
            s3 = stack.boto3_session().client("s3", **aws_client_kwargs(stack.settings))
            s3.put_object(Bucket=stack.settings.bucket, Key=key, Body=key.encode())
        # THEN each event reaches its own stack's queue only
        assert received_keys(a) == ["incoming/only in a.pdf"]
        assert received_keys(b) == ["incoming/only in b.pdf"]
        # AND Delta works through each stack's Sail, into its own data dir
        assert delta_merge_roundtrip(a, "docs") == [("a", 2)]
        assert delta_merge_roundtrip(b, "docs") == [("a", 2)]
        assert Path(a.settings.delta_location, "docs", "_delta_log").is_dir()
        started = {s.pid: stack_ports(s._state) for s in (a, b)}
        data_dirs = [a.settings.state_dir, b.settings.state_dir]
        assert set(started) <= set(children(os.getpid()))
    # THEN leaving stops both daemons, frees all four ports and removes the temporary data
    for pid, ports in started.items():
        assert gone(pid, ports, timeout=0), f"stack process {pid} or its ports {ports} survived"
    assert set(children(os.getpid())) <= before
    assert not any(d.exists() for d in data_dirs)


def test_env_lets_a_child_process_join_the_stack(tmp_path: Path):
    # GIVEN a user whose shell selects a real-looking AWS profile
    config = tmp_path / "aws_config"
    config.write_text("[profile prod]\nregion = eu-west-3\naws_access_key_id = AKIAREALKEY\naws_secret_access_key = real\n")
    user_env = {**os.environ, "AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "prod", "PYTHONPATH": str(REPO)}
    with LocalStack() as stack:
        child = textwrap.dedent("""
            import json, boto3
            from idp_kit.local import local_status
            from idp_kit.settings import Settings
            s = Settings()
            creds = boto3.Session().get_credentials()
            print(json.dumps({"settings": s.model_dump(mode="json"), "key": creds.access_key, "buckets": [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]],
                              "status": local_status(s)["status"]}))
        """)
        env = {**user_env, **stack.env()}  # THEN the stack's variables beat the inherited profile
        out = json.loads(subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, check=True).stdout)
        assert out["settings"] == stack.settings.model_dump(mode="json")
        assert out["buckets"] == [stack.settings.bucket]  # plain boto3 reached moto through AWS_ENDPOINT_URL
        assert out["status"] == "running" and out["key"] == "testing"
    assert "AWS_ACCESS_KEY_ID" not in os.environ or os.environ["AWS_ACCESS_KEY_ID"] != "testing"  # nothing leaked into ours


def test_stack_process_exits_when_its_owner_dies():
    # GIVEN a process that opens a LocalStack and is then killed without leaving the `with` block
    owner = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from idp_kit.local import LocalStack
        stack = LocalStack(provision=False).__enter__()
        print(stack.pid, stack._state["moto_port"], stack._state["spark_port"], stack._tmp, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    *numbers, data_dir = owner.stdout.readline().split()
    pid, *ports = map(int, numbers)
    assert Path(data_dir).is_dir()
    assert _pid_alive(pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    # THEN the orphaned stack notices and stops by itself, removing the temporary directory its owner could not
    assert gone(pid, ports, timeout=10), f"orphaned stack {pid} still running"
    deadline = time.monotonic() + 5
    while Path(data_dir).exists() and time.monotonic() < deadline: time.sleep(0.1)
    assert not Path(data_dir).exists(), f"{data_dir} left behind"


def test_up_status_down_round_trip(tmp_path: Path):
    settings = Settings(state_dir=tmp_path / "state")
    assert local_status(settings)["status"] == "down"
    # WHEN the stack is brought up, twice
    first = local_up(settings)
    try:
        assert first["status"] == "running" and first["action"] == "started"
        second = local_up(settings)
        # THEN the second call reports the running stack instead of starting another
        assert second["action"] == "already running" and second["pid"] == first["pid"]
        status = local_status(settings)
        assert status["status"] == "running"
        assert status["env"]["IDP_SPARK_REMOTE"] == first["spark_remote"] == f"sc://127.0.0.1:{first['spark_port']}"
        assert Path(first["log"]).read_text().count("local stack ready") == 1
        # AND a LocalStack refuses to take over the same directory
        with pytest.raises(RuntimeError, match="A stack already runs in"):
            LocalStack(data_dir=settings.state_dir).__enter__()
    finally:
        down = local_down(settings)
    assert down["action"] == "stopped (SIGTERM)"
    assert gone(first["pid"], stack_ports(first), timeout=0)
    assert not (settings.state_dir / STATE_FILE).exists()
    assert local_status(settings)["status"] == "down"
    assert local_down(settings)["action"] == "nothing to stop"


def test_killed_daemon_leaves_stale_state_that_up_and_down_clear(tmp_path: Path):
    settings = Settings(state_dir=tmp_path)
    first = local_up(settings)
    os.kill(first["pid"], signal.SIGKILL)
    assert gone(first["pid"], stack_ports(first))
    # THEN status says stale, why, and what to do
    stale = local_status(settings)
    assert stale["status"] == "stale"
    assert f"process {first['pid']} is not running" in stale["reason"]
    assert "idp-kit local down" in stale["hint"]
    # AND up clears it and starts afresh
    second = local_up(settings)
    try:
        assert second["action"] == "started (cleared stale state: cleared stale state)"
        assert second["pid"] != first["pid"] and local_status(settings)["status"] == "running"
    finally:
        assert local_down(settings)["action"] == "stopped (SIGTERM)"
    # AND down on stale state just clears it
    third = local_up(settings)
    os.kill(third["pid"], signal.SIGKILL)
    assert gone(third["pid"], stack_ports(third))
    assert local_down(settings)["action"] == "cleared stale state"
    assert local_status(settings)["status"] == "down"


def test_spark_session_uses_the_ambient_session_on_databricks(monkeypatch):
    with LocalStack(provision=False) as stack:
        ours = stack.spark()
        assert ours.conf.get("spark.sql.session.timeZone") == "UTC"
        monkeypatch.setenv(DATABRICKS_ENV, "15.4")
        assert spark_session(Settings()) is ours  # no spark_remote needed: the runtime's session is used


def test_missing_local_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysail", None)
    monkeypatch.delitem(sys.modules, "pysail.spark", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'idp_kit\[local\]'"):
        require_local_extra()


def test_every_session_the_kit_opens_sees_the_tables(tmp_path: Path):
    # GIVEN a stack whose tables hold a run, written through the stack's own session
    from idp_kit.tracking import RunSummary, merge_run
    with LocalStack() as stack:
        merge_run(stack.spark(), stack.settings, RunSummary(run_id="3f1c2a9e-0000-4000-8000-000000000001", queue_name="q"))
        # WHEN another process opens its own session with the kit's spark_session (as a notebook or `idp-kit runs` does)
        child = tmp_path / "child.py"  # Spark Connect sessions want a script file, not `python -c`
        child.write_text(textwrap.dedent("""
            from idp_kit.settings import Settings
            from idp_kit.spark import spark_session
            s = Settings()
            print(spark_session(s).sql(f"SELECT run_id FROM {s.delta_schema}.ingestion_runs").collect()[0].run_id)
        """))
        out = subprocess.run([sys.executable, str(child)], env={**os.environ, **stack.env(), "PYTHONPATH": str(REPO)},
                             capture_output=True, text=True, timeout=120)
    # THEN it sees the table and its row without running any DDL by hand (Sail keeps a catalog per session)
    assert out.returncode == 0 and out.stdout.strip() == "3f1c2a9e-0000-4000-8000-000000000001", out.stderr[-2000:]
