"""Documents that show what the code produces must show what it produces now."""
from __future__ import annotations

import json
import re

from conftest import REPO
from idp_kit.infra_spec import (IngestionStackSpec, api_function_policy, authorizer_function_policy, callbacks_function_policy,
                                databricks_job_completion_policy, databricks_job_policy, lambda_logs_policy)


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


def test_deploying_guide_shows_the_functions_policies_the_templates_render():
    # GIVEN the IAM policy blocks of the API section in docs/deploying.md: the API function's, the authorizer's, the
    # callback deliverer's, the API function's log policy
    text = (REPO / "docs" / "deploying.md").read_text()
    section = text[text.index("## 3. The Document Processing API on Lambda"):text.index("## 4. ")]
    shown = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", section, re.S)]
    # WHEN the templates are rendered for the same placeholder names
    spec = IngestionStackSpec.model_construct(bucket_name="BUCKET", watched_prefix="incoming/", api_upload_prefix="api/",
                                              api_readable_buckets=())
    arn = lambda service, rest: f"arn:aws:{service}:REGION:ACCOUNT:{rest}"
    table = lambda name: arn("dynamodb", f"table/{name}")
    arns = {"status_table": table("idp-kit-document-status"), "idempotency_table": table("idp-kit-idempotency"),
            "api_keys_table": table("idp-kit-api-keys"), "ingest_queue": arn("sqs", "idp-kit-ingest")}
    rendered = [api_function_policy(spec, arns), authorizer_function_policy(arns["api_keys_table"]),
                callbacks_function_policy(arns["status_table"], arn("sqs", "idp-kit-document-completed-callbacks")),
                lambda_logs_policy(arn("logs", "log-group:/aws/lambda/idp-kit-api"))]
    # THEN they are the same documents
    assert shown == rendered
