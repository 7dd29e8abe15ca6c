"""`idp-kit build` and `idp-kit settings from-terraform`, run as a user runs them: the deployables and their manifest,
and a deployment's settings read back from Terraform's outputs.

`idp-kit build` installs the Lambda zip's packages with pip (cached after the first run: about 15 s), so it runs once per
session (`built`) and every test reads that one build."""
from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, idp_kit_command
from idp_kit.build import (LAMBDA_UNZIPPED_LIMIT, LAMBDA_ZIP_LIMIT, ZIP_EPOCH, deterministic_zip, file_digest,
                           measure_handler_imports)
from idp_kit.infra_spec import LAMBDA_HANDLERS

NEVER_IN_THE_ZIP = ("pyspark", "pysail", "pandas", "pyarrow", "numpy", "pypdfium2", "lxml", "docx", "bs4", "moto")


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> tuple[Path, dict, str]:
    "`idp-kit build --out DIR` once for the session, into a directory holding stale artifacts: (DIR, manifest, stdout)."
    out = tmp_path_factory.mktemp("dist")
    (out / "idp_kit-0.0.1-py3-none-any.whl").write_bytes(b"old")
    (out / "idp_kit_lambda.zip").write_bytes(b"old")
    proc = subprocess.run([str(idp_kit_command()), "build", "--out", str(out)], capture_output=True, text=True, cwd=REPO,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "manifest.json").read_text()), proc.stdout


def test_build_writes_the_wheel_and_a_manifest_that_describes_it(built):
    # GIVEN a checkout built into a directory that held a stale wheel from an older version
    tmp_path, manifest, stdout = built
    assert json.loads(stdout) == manifest
    # THEN the manifest names exactly the one wheel there, with its size and both hash forms
    wheel = manifest["artifacts"]["databricks_wheel"]
    assert sorted(p.name for p in tmp_path.glob("*.whl")) == [wheel["file"]]
    data = (tmp_path / wheel["file"]).read_bytes()
    assert wheel["bytes"] == len(data) and wheel["sha256"] == hashlib.sha256(data).hexdigest()
    assert wheel["base64sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert manifest["version"] in wheel["file"] and len(manifest["commit"].split("+")[0]) == 40
    # AND the wheel carries the Terraform module, its policy templates, the CloudFormation template and the DDL, and no Terraform state
    names = zipfile.ZipFile(tmp_path / wheel["file"]).namelist()
    for needed in ("idp_kit/infra/aws/cloud_storage_ingestion.tf", "idp_kit/infra/aws/variables.tf",
                   "idp_kit/infra/aws/policies/databricks_job.json.tftpl", "idp_kit/infra/aws/cloud_storage_ingestion.yaml",
                   "idp_kit/sql/raw_ingestion_metadata.sql"):
        assert needed in names, needed
    assert not [n for n in names if ".terraform" in n or n.endswith((".tfstate", ".hcl"))]
    assert "idp_kit/infra/aws/policies/api_function.json.tftpl" in names and "idp_kit/infra/aws/lambda.tf" in names


def test_the_lambda_zip_holds_the_handlers_and_what_they_import_and_nothing_heavy(built):
    # GIVEN the zip the build wrote, and its manifest entry
    tmp_path, manifest, _ = built
    entry = manifest["artifacts"]["lambda_zip"]
    data = (tmp_path / entry["file"]).read_bytes()
    # THEN the manifest describes it: size, both hashes (base64sha256 is Terraform's source_code_hash), unzipped size
    assert entry["file"] == "idp_kit_lambda.zip" and entry["bytes"] == len(data) == file_digest(tmp_path / entry["file"])["bytes"]
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["base64sha256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    z = zipfile.ZipFile(tmp_path / entry["file"])
    infos = z.infolist()
    assert entry["unzipped_bytes"] == sum(i.file_size for i in infos)
    assert (entry["architecture"], entry["runtime"], entry["handlers"]) == ("x86_64", "python3.12", LAMBDA_HANDLERS)
    # AND Lambda takes it: under 50 MB zipped and 250 MB unzipped
    assert len(data) < LAMBDA_ZIP_LIMIT and entry["unzipped_bytes"] < LAMBDA_UNZIPPED_LIMIT
    # AND it holds the three handlers' modules (compiled for 3.12), their dependencies, and none of the heavy ones
    names = {i.filename for i in infos}
    for handler in LAMBDA_HANDLERS.values():
        module = handler.rsplit(".", 1)[0].replace(".", "/")
        assert f"{module}.py" in names and any(n.startswith(f"{module.rsplit('/', 1)[0]}/__pycache__/{module.rsplit('/', 1)[1]}.cpython-312") for n in names)
    tops = {n.split("/", 1)[0] for n in names}
    assert {"aws_lambda_powertools", "databricks", "pydantic", "pydantic_settings", "boto3", "botocore"} <= tops
    assert [n for n in names if n.startswith(NEVER_IN_THE_ZIP)] == []
    # AND nothing that differs between two installs: no console scripts, no RECORD, no install paths; fixed times and modes
    assert [n for n in names if n.startswith("bin/") or n.endswith(("/RECORD", "/direct_url.json", "/INSTALLER"))] == []
    assert {(i.date_time, i.external_attr >> 16) for i in infos} <= {(ZIP_EPOCH, 0o100644), (ZIP_EPOCH, 0o100755)}
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)


def test_the_lambda_zip_is_reproducible(built, tmp_path):
    # GIVEN the built zip, unpacked into a fresh tree (new files, new times, another order on disk)
    dist, manifest, _ = built
    tree = tmp_path / "tree"
    with zipfile.ZipFile(dist / "idp_kit_lambda.zip") as z:
        z.extractall(tree)
        for info in z.infolist(): (tree / info.filename).chmod((info.external_attr >> 16) & 0o777)  # extractall drops modes
    # WHEN it is zipped again
    again = tmp_path / "again.zip"
    deterministic_zip(tree, again)
    # THEN the bytes, and so the hash Terraform compares, are the same
    assert file_digest(again)["sha256"] == manifest["artifacts"]["lambda_zip"]["sha256"]


def test_every_handler_imports_from_the_zip_alone(built):
    # GIVEN the zip  WHEN each handler is imported in a fresh CPython 3.12 with nothing but the unzipped zip on its path
    # (-I -S -B: no site-packages, no environment, no bytecode written), three times each
    dist, _, _ = built
    seconds = measure_handler_imports(dist / "idp_kit_lambda.zip")
    # THEN every one imports (a missing module fails here, with the import error) and is callable; the time each took
    # is reported (speed goals belong to the benchmarks: `idp-kit bench`)
    assert set(seconds) == set(LAMBDA_HANDLERS.values()) and all(0 < s < 30 for s in seconds.values())
    print("handler import seconds (median of 3):", json.dumps(seconds))


def test_settings_from_terraform_outputs_in_every_format(idp_kit, tmp_path):
    # GIVEN outputs saved with `terraform output -json`
    settings = {"IDP_BUCKET": "acme-landing", "IDP_INGEST_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/idp-kit-ingest",
                "IDP_SUBSCRIBER_QUEUES": '["idp-kit-ingest","idp-kit-audit"]'}
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps({"idp_kit_settings": {"sensitive": False, "type": ["object", {}], "value": settings},
                                 "bucket_name": {"sensitive": False, "type": "string", "value": "acme-landing"}}))
    # WHEN printed as export lines THEN a shell can eval them back to the same values
    env = idp_kit("settings", "from-terraform", str(saved))
    assert env.returncode == 0, env.stderr
    import subprocess
    echoed = subprocess.run(["bash", "-c", env.stdout + '\nprintf "%s" "$IDP_SUBSCRIBER_QUEUES"'], capture_output=True, text=True).stdout
    assert echoed == settings["IDP_SUBSCRIBER_QUEUES"]
    # AND as JSON, and as a Databricks job cluster's spark_env_vars
    assert json.loads(idp_kit("settings", "from-terraform", str(saved), "--format", "json").stdout) == settings
    assert json.loads(idp_kit("settings", "from-terraform", str(saved), "--format", "databricks").stdout) == {"spark_env_vars": settings}
