"""Documents that show what the code produces must show what it produces now."""
from __future__ import annotations

import json
import re

from conftest import REPO
from idp_kit.infra_spec import IngestionStackSpec, databricks_job_policy


def test_deploying_guide_shows_the_policy_the_template_renders():
    # GIVEN the IAM policy block in docs/deploying.md, written for placeholder names
    text = (REPO / "docs" / "deploying.md").read_text()
    section = text[text.index("## 2. Least-privilege IAM for the poller"):]
    shown = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))
    # WHEN the one template is rendered for the same names (model_construct: BUCKET is a placeholder, not a bucket name)
    spec = IngestionStackSpec.model_construct(bucket_name="BUCKET", watched_prefix="incoming/")
    rendered = databricks_job_policy(spec, ["arn:aws:sqs:REGION:ACCOUNT:idp-kit-ingest", "arn:aws:sqs:REGION:ACCOUNT:idp-kit-audit"])
    # THEN they are the same document
    assert shown == rendered
