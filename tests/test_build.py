"""`idp-kit build` and `idp-kit settings from-terraform`, run as a user runs them: the deployables and their manifest,
and a deployment's settings read back from Terraform's outputs."""
from __future__ import annotations

import base64
import hashlib
import json
import zipfile

from conftest import REPO


def test_build_writes_the_wheel_and_a_manifest_that_describes_it(idp_kit, tmp_path):
    # GIVEN a checkout  WHEN building into a fresh directory (with a stale wheel from an older version in it)
    (tmp_path / "idp_kit-0.0.1-py3-none-any.whl").write_bytes(b"old")
    proc = idp_kit("build", "--out", str(tmp_path), cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert json.loads(proc.stdout) == manifest
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
