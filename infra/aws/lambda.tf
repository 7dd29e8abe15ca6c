################################################################################
# The Document Processing API's functions: one zip (`idp-kit build`), three
# handlers, one role each with exactly the permissions its handler uses. The
# permissions come from policies/*_function.json.tftpl (and lambda_logs, and the
# KMS ones), which idp_kit.infra_spec renders in Python as well.
################################################################################

locals {
  completion_enabled = var.completion_topic_name != null

  # function -> name, handler, timeout; only those this stack deploys
  lambda_functions = var.api_enabled ? merge(
    { api = { name = var.api_name, handler = "idp_kit.document_processing_api.handler", timeout = var.api_timeout_seconds } },
    var.api_auth == "api_key" ? { authorizer = { name = "${var.api_name}-authorizer", handler = "idp_kit.api_authorizer.handler", timeout = 10 } } : {},
    local.completion_enabled ? { callbacks = { name = "${var.api_name}-callbacks", handler = "idp_kit.completion_callbacks.handler", timeout = var.callbacks_timeout_seconds } } : {},
  ) : {}

  log_group_arns = { for k, f in local.lambda_functions : k => "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${f.name}" }

  # What every function reads: the stack's settings, and the API's own. The secrets are added per function below.
  api_settings = merge(local.idp_kit_settings, {
    IDP_API_UPLOAD_PREFIX   = var.api_upload_prefix
    IDP_API_ROUTES          = jsonencode(var.api_routes)
    IDP_API_RATE_PER_MINUTE = tostring(var.api_rate_per_minute)
    IDP_MAX_DOCUMENT_BYTES  = tostring(var.api_max_document_bytes)
    IDP_DELTA_SCHEMA        = var.delta_schema
  }, var.databricks_warehouse_id == null ? {} : { IDP_DATABRICKS_WAREHOUSE_ID = var.databricks_warehouse_id })

  signing_secret = var.api_signing_secret == null ? {} : { IDP_API_SIGNING_SECRET = var.api_signing_secret }
  databricks     = { for k, v in { DATABRICKS_HOST = var.databricks_host, DATABRICKS_TOKEN = var.databricks_token } : k => v if v != null }
  lambda_environment = {
    api        = merge(local.api_settings, local.signing_secret, local.databricks)
    authorizer = local.api_settings
    callbacks  = merge(local.api_settings, local.signing_secret)
  }
}

data "aws_iam_policy_document" "lambda_trust" {
  count = var.api_enabled ? 1 : 0

  statement {
    sid     = "LambdaAssumesTheRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.lambda_functions

  name               = each.value.name
  description        = "Assumed by the idp_kit Lambda function ${each.value.name} (${each.value.handler})."
  assume_role_policy = data.aws_iam_policy_document.lambda_trust[0].json

  tags = local.tags
}

resource "aws_iam_role_policy" "lambda_logs" {
  for_each = local.lambda_functions

  name   = "idp-kit-${each.key}-logs"
  role   = aws_iam_role.lambda[each.key].id
  policy = templatefile("${path.module}/policies/lambda_logs.json.tftpl", { log_group_arn = local.log_group_arns[each.key] })
}

resource "aws_iam_role_policy" "api_function" {
  count = var.api_enabled ? 1 : 0

  name = "idp-kit-api-function"
  role = aws_iam_role.lambda["api"].id
  policy = templatefile("${path.module}/policies/api_function.json.tftpl", {
    status_table_arn      = aws_dynamodb_table.this.arn
    idempotency_table_arn = aws_dynamodb_table.idempotency.arn
    api_keys_table_arn    = aws_dynamodb_table.api_keys.arn
    ingest_queue_arn      = aws_sqs_queue.this[var.ingest_subscriber].arn
    readable_object_arns  = jsonencode([for b in coalescelist(var.api_readable_buckets, [var.bucket_name]) : "arn:${local.partition}:s3:::${b}/*"])
    upload_object_arns    = "${aws_s3_bucket.this.arn}/${var.watched_prefix}${var.api_upload_prefix}*"
  })
}

resource "aws_iam_role_policy" "authorizer_function" {
  count = contains(keys(local.lambda_functions), "authorizer") ? 1 : 0

  name = "idp-kit-authorizer-function"
  role = aws_iam_role.lambda["authorizer"].id
  policy = templatefile("${path.module}/policies/authorizer_function.json.tftpl", {
    api_keys_table_arn = aws_dynamodb_table.api_keys.arn
  })
}

resource "aws_iam_role_policy" "callbacks_function" {
  count = contains(keys(local.lambda_functions), "callbacks") ? 1 : 0

  name = "idp-kit-callbacks-function"
  role = aws_iam_role.lambda["callbacks"].id
  policy = templatefile("${path.module}/policies/callbacks_function.json.tftpl", {
    status_table_arn   = aws_dynamodb_table.this.arn
    callback_queue_arn = aws_sqs_queue.callback[0].arn
  })
}

resource "aws_iam_role_policy" "lambda_bucket_kms" {
  count = var.api_enabled && var.bucket_kms_key_arn != null ? 1 : 0

  name = "idp-kit-api-bucket-kms"
  role = aws_iam_role.lambda["api"].id
  policy = templatefile("${path.module}/policies/lambda_bucket_kms.json.tftpl", {
    kms_key_arn = var.bucket_kms_key_arn
    region      = local.region
  })
}

resource "aws_iam_role_policy" "lambda_table_kms" {
  for_each = var.status_table_kms_key_arn == null ? {} : local.lambda_functions

  name = "idp-kit-${each.key}-table-kms"
  role = aws_iam_role.lambda[each.key].id
  policy = templatefile("${path.module}/policies/lambda_table_kms.json.tftpl", {
    kms_key_arn = var.status_table_kms_key_arn
    region      = local.region
  })
}

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (log_retention_days, default 30 days): request logs hold callers' addresses and are not an audit trail.
  for_each = local.lambda_functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:X-Ray tracing is the caller's choice: it needs xray:PutTraceSegments, which the least-privilege roles leave out.
  #checkov:skip=CKV_AWS_116:No asynchronous invocations: API Gateway invokes synchronously and the SQS event source retries and dead-letters through the callback queue's own DLQ.
  #checkov:skip=CKV_AWS_117:The functions call AWS APIs, Databricks and callers' callback URLs over the internet; a VPC is the caller's network design, not this module's.
  #checkov:skip=CKV_AWS_173:The environment holds no secret beyond api_signing_secret and databricks_token, which AWS encrypts at rest with its own key; the hardening step is Secrets Manager (docs/deploying.md), not a second key.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile the caller owns; the zip's SHA-256 is pinned by source_code_hash from the build manifest.
  for_each = local.lambda_functions

  function_name    = each.value.name
  description      = "idp_kit ${each.key}: ${each.value.handler}"
  role             = aws_iam_role.lambda[each.key].arn
  runtime          = "python3.12"
  architectures    = [var.lambda_architecture]
  handler          = each.value.handler
  filename         = var.lambda_zip_path
  source_code_hash = var.lambda_zip_base64sha256 != null ? var.lambda_zip_base64sha256 : filebase64sha256(var.lambda_zip_path)
  memory_size      = var.lambda_memory_mb
  timeout          = each.value.timeout

  reserved_concurrent_executions = each.key == "api" && var.api_reserved_concurrency != null ? var.api_reserved_concurrency : -1

  environment {
    variables = local.lambda_environment[each.key]
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda[each.key].name
  }

  # The role must be able to write its logs before the first invocation.
  depends_on = [aws_iam_role_policy.lambda_logs]

  tags = local.tags
}

################################################################################
# The callback deliverer reads the callback queue
################################################################################

resource "aws_lambda_event_source_mapping" "callbacks" {
  count = contains(keys(local.lambda_functions), "callbacks") ? 1 : 0

  event_source_arn        = aws_sqs_queue.callback[0].arn
  function_name           = aws_lambda_function.this["callbacks"].arn
  batch_size              = var.callbacks_batch_size
  function_response_types = ["ReportBatchItemFailures"]

  # Lambda checks the role may read the queue when the mapping is made.
  depends_on = [aws_iam_role_policy.callbacks_function]
}
