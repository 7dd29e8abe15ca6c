"""Documents that show what the code produces must show what it produces now."""
from __future__ import annotations

import json
import re

from conftest import REPO
from idp_kit.infra_spec import IngestionStackSpec, databricks_job_completion_policy, databricks_job_policy


def test_deploying_guide_shows_the_policies_the_templates_render():
    # GIVEN the IAM policy blocks in docs/deploying.md, written for placeholder names: the job's, then the completion one
    text = (REPO / "docs" / "deploying.md").read_text()
    section = text[text.index("## 2. Least-privilege IAM for the poller"):text.index("## 3. ")]
    shown = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]
    # WHEN the templates are rendered for the same names (model_construct: BUCKET is a placeholder, not a bucket name)
    spec = IngestionStackSpec.model_construct(bucket_name="BUCKET", watched_prefix="incoming/",
                                              completion_topic_name="idp-kit-document-completed")
    arn = lambda service, rest: f"arn:aws:{service}:REGION:ACCOUNT:{rest}"
    rendered = [databricks_job_policy(spec, [arn("sqs", "idp-kit-ingest"), arn("sqs", "idp-kit-audit")],
                                      arn("dynamodb", "table/idp-kit-document-status")),
                databricks_job_completion_policy(spec, arn("sns", "idp-kit-document-completed"))]
    # THEN they are the same documents
    assert shown == rendered
