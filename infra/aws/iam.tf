################################################################################
# The role the Databricks job assumes (a Unity Catalog service credential).
# Its permissions come from ONE source, policies/databricks_job.json.tftpl,
# which idp_kit.infra_spec.databricks_job_policy renders in Python as well (and
# the optional parts: databricks_job_kms, databricks_job_completion).
################################################################################

locals {
  databricks_role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${var.databricks_role_name}"
}

data "aws_iam_policy_document" "databricks_trust" {
  count = var.create_databricks_role ? 1 : 0

  statement {
    sid     = "DatabricksUnityCatalog"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = [var.databricks_principal_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.databricks_external_id]
    }
  }

  # Databricks requires UC credential roles to assume themselves. IAM refuses a trust policy naming a role that
  # does not exist yet (this one, at create time), so the account is the principal and the role's ARN a condition;
  # the self_assume policy below grants the identity side.
  statement {
    sid     = "ExplicitSelfRoleAssumption"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [local.databricks_role_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.databricks_external_id]
    }
  }
}

resource "aws_iam_role" "this" {
  count = var.create_databricks_role ? 1 : 0

  name                 = var.databricks_role_name
  description          = "Assumed by the idp_kit Databricks job: consume the subscriber queues, read the watched objects."
  assume_role_policy   = data.aws_iam_policy_document.databricks_trust[0].json
  max_session_duration = 3600

  tags = local.tags
}

resource "aws_iam_role_policy" "databricks_job" {
  count = var.create_databricks_role ? 1 : 0

  name = "idp-kit-databricks-job"
  role = aws_iam_role.this[0].id
  policy = templatefile("${path.module}/policies/databricks_job.json.tftpl", {
    queue_arns       = jsonencode([for name in keys(var.sqs_subscribers) : aws_sqs_queue.this[name].arn])
    bucket_arn       = aws_s3_bucket.this.arn
    watched_prefix   = var.watched_prefix
    status_table_arn = aws_dynamodb_table.this.arn
  })
}

resource "aws_iam_role_policy" "databricks_job_completion" {
  count = var.create_databricks_role && var.completion_topic_name != null ? 1 : 0

  name = "idp-kit-databricks-job-completion"
  role = aws_iam_role.this[0].id
  policy = templatefile("${path.module}/policies/databricks_job_completion.json.tftpl", {
    completion_topic_arn = aws_sns_topic.completion[0].arn
  })
}

resource "aws_iam_role_policy" "databricks_job_kms" {
  count = var.create_databricks_role && var.bucket_kms_key_arn != null ? 1 : 0

  name = "idp-kit-databricks-job-kms"
  role = aws_iam_role.this[0].id
  policy = templatefile("${path.module}/policies/databricks_job_kms.json.tftpl", {
    kms_key_arn = var.bucket_kms_key_arn
    region      = local.region
  })
}

data "aws_iam_policy_document" "databricks_self_assume" {
  count = var.create_databricks_role ? 1 : 0

  statement {
    sid       = "SelfAssumeForUnityCatalog"
    effect    = "Allow"
    actions   = ["sts:AssumeRole"]
    resources = [local.databricks_role_arn]
  }
}

resource "aws_iam_role_policy" "databricks_self_assume" {
  count = var.create_databricks_role ? 1 : 0

  name   = "idp-kit-databricks-self-assume"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.databricks_self_assume[0].json
}
