"""Schemathesis against the locally served Document Processing API, with a valid key: every check, no failure."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from idp_kit.api_keys import ApiKeyStore
from idp_kit.api_server import ApiServer
from idp_kit.document_processing_api import openapi_document
from idp_kit.local import LocalStack
from idp_kit.settings import AwsClients


def test_the_committed_openapi_document_is_the_one_the_code_generates():
    committed = json.loads((REPO / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), "docs/openapi.json is stale: run `idp-kit openapi > docs/openapi.json`"
    assert committed["openapi"].startswith("3.1")


def test_schemathesis_finds_no_failure_against_the_local_server(tmp_path: Path):
    # GIVEN the API served on a local stack, a key, and a rate limit the fuzzer will not reach
    with LocalStack() as stack, ApiServer(stack.env() | {"IDP_API_RATE_PER_MINUTE": "1000000"}, workers=2) as server:
        key = ApiKeyStore(stack.settings, AwsClients(stack.settings, stack.boto3_session())).create("schemathesis").key
        # WHEN schemathesis runs every check, every phase (examples, coverage, fuzzing, stateful), seeded
        st = Path(sys.executable).parent / "st"
        run = subprocess.run([str(st), "--config-file", str(REPO / "tests" / "schemathesis.toml"), "run",
                              f"{server.url}/v1/openapi.json", "--header", f"x-api-key: {key}", "--checks", "all",
                              "--max-examples", "25", "--seed", "20261126", "--no-shrink", "--warnings", "off",
                              "--report", "junit", "--report-dir", str(tmp_path)],
                             capture_output=True, text=True, timeout=600)
    # THEN no 5xx, every response matches the schema, every check passes
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failures" not in run.stdout.split("SUMMARY")[-1].lower()
