"""Shared pytest fixtures: paths and a runner for the installed `idp-kit` command."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
