"""The README's commands, as written: the by-hand walkthrough runs in bash top to bottom, and the CLI summary lists
every command and option the parser has (and nothing it lacks), so the two cannot drift apart."""
from __future__ import annotations

import argparse
import os
import re
import subprocess

import pytest

from conftest import REPO
from idp_kit.cli import build_parser

README = (REPO / "README.md").read_text()


def fenced_block(after_heading: str, lang: str) -> str:
    "The first ```lang block after the heading line `after_heading`."
    start = README.index(after_heading)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, start)
    assert m, f"no ```{lang} block after {after_heading!r}"
    return m.group(1)


def subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    "Every leaf command of the parser, by its words."
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs: return {prefix: parser}
    return {k: v for name, p in subs[0].choices.items() for k, v in subcommands(p, prefix + (name,)).items()}


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o.startswith("--") and o != "--help"}


def test_cli_summary_lists_every_command_and_option():
    summary = fenced_block("## The command line", "text")
    lines = [l.split("#")[0] for l in summary.splitlines() if l.startswith("idp-kit ")]
    for words, parser in subcommands(build_parser()).items():
        # local up|down|... is one line for the `local` command
        line = next((l for l in lines if l.split()[1:len(words) + 1] == list(words) or
                     (len(words) == 1 and l.split()[1] == words[0])), None)
        assert line, f"README's CLI summary has no line for `idp-kit {' '.join(words)}`"
        missing = {o for o in options(parser) if o not in line}
        assert not missing, f"`idp-kit {' '.join(words)}`: README omits {sorted(missing)}"
        extra = set(re.findall(r"--[a-z][a-z-]*", line)) - options(parser)
        assert not extra, f"`idp-kit {' '.join(words)}`: README shows options the CLI lacks: {sorted(extra)}"


@pytest.mark.slow
def test_by_hand_walkthrough_runs_as_written(tmp_path):
    # GIVEN the README's by-hand block, a state directory of the test's own, and nothing else running
    block = fenced_block("### By hand", "bash")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "AWS_"))} | {"IDP_STATE_DIR": str(tmp_path / "state")}
    # WHEN bash runs it from the repository root, stopping at the first failing command
    proc = subprocess.run(["bash", "-c", "set -euo pipefail\nshopt -s expand_aliases\n" + block], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    # THEN every command succeeded, the upload was parsed, and the stack is gone afterwards
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '"processed": 1' in proc.stdout and '"status": "succeeded"' in proc.stdout
    assert not (tmp_path / "state" / "stack.json").exists() and not (tmp_path / "state" / "delta").exists()


def test_offline_terraform_init_as_the_readme_says(tmp_path):
    # GIVEN a copy of infra/ and the README's offline-init lines, with every network route through a dead proxy
    import shutil
    shutil.copytree(REPO / "infra", tmp_path / "infra", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    block = fenced_block("### Terraform offline, from a provider mirror", "bash")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "TF_"))}
    env |= {"PATH": f"{REPO / '.venv' / 'bin'}:{env['PATH']}", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    # WHEN bash runs them
    proc = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    # THEN init succeeded from the mirror, without the registry
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Terraform has been successfully initialized" in proc.stdout
    assert (tmp_path / "infra" / "aws" / "examples" / "complete" / ".terraform.lock.hcl").exists()
