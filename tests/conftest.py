"""Shared pytest fixtures: paths and a runner for the installed `idp-kit` command."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Local stacks in tests are provisioned with boto3 unless a test asks for another provisioner: applying the Terraform
# module takes about a minute on moto (the AWS provider's propagation waits), and tests/test_terraform_deploy.py proves
# the boto3 provisioner creates the same stack, setting by setting. The Terraform-applied stacks are exercised there,
# in the README walkthrough (tests/test_readme.py) and in the production-simulation notebook.
os.environ.setdefault("IDP_PROVISIONER", "boto3")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLES = REPO / "nbs" / "samples"


def idp_kit_command() -> Path:
    "The `idp-kit` console script installed beside the running interpreter; a missing one fails loudly."
    exe = Path(sys.executable).parent / "idp-kit"
    if not exe.exists(): pytest.fail(f"idp-kit is not installed beside {sys.executable}: run `make test` (pip install -e '.[local,dev]')")
    return exe


@pytest.fixture
def idp_kit():
    "Run `idp-kit ARGS...` as a user would; returns the CompletedProcess (text mode)."
    def run(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(idp_kit_command()), *args], capture_output=True, text=True, timeout=timeout, **kw)
    return run
