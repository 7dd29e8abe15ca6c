"""The core install stays light: Databricks runtimes bring their own pyspark, so the kit's core must neither
depend on it nor import it."""
from __future__ import annotations

import configparser
import subprocess
import sys

from conftest import REPO

CORE_MODULES = ["canonical_schema", "settings", "provisioning", "events", "parsers", "tracking", "claims", "throttling", "fetching",
                "work_units", "job_dispatch", "sqs_transport", "sqs_batch_ingestion", "monitoring", "replay", "redrive", "logs",
                "simulation", "cli", "routing", "enrichment", "enrichers.classification", "enrichers.language", "enrichers.invoice",
                "enrichers.pii", "adapters", "document_pipeline", "validation"]


def requirements(key: str) -> list[str]:
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(REPO / "settings.ini", encoding="utf-8")
    return cfg["DEFAULT"][key].split()


def test_core_requirements_leave_out_spark_and_the_local_stack():
    core = [r.split("[")[0].split("=")[0].split(">")[0].split("<")[0].lower() for r in requirements("requirements")]
    assert not {"pyspark", "pyspark-client", "pysail", "moto", "delta-spark"} & set(core), core
    local = " ".join(requirements("local_requirements"))
    assert "pysail" in local and "pyspark-client" in local and "moto[server]" in local


def test_core_modules_import_without_pyspark():
    # GIVEN an interpreter where `import pyspark` fails, as on a machine with only the core install
    code = ("import sys; sys.modules['pyspark'] = None; sys.modules['pysail'] = None; sys.modules['moto'] = None\n"
            + "".join(f"import idp_kit.{m}\n" for m in CORE_MODULES) + "print('ok')")
    # WHEN every core module is imported; THEN none of them needs Spark or the local stack
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_spark_session_without_pyspark_names_the_extra():
    code = ("import sys; sys.modules['pyspark'] = None\nfrom idp_kit.settings import Settings\nfrom idp_kit.spark import spark_session\n"
            "spark_session(Settings(spark_remote='sc://127.0.0.1:1'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode != 0 and "local" in proc.stderr and "pip install" in proc.stderr, proc.stderr[-2000:]
