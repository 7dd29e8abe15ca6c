################################################################################
# The ingestion path: documents land in the bucket, S3 publishes object-created
# and object-removed events to the topic, the topic fans out to one queue per
# subscriber, and the Databricks job polls the ingest subscriber's queue. The
# status table is written by the job and the API (api.tf holds the API's other
# tables and its completion topic); the role is what the job assumes.
#
# SQS note: the AWS provider waits about 25 s after creating each queue or
# queue attribute (6 identical reads, 5 s apart). Policies are therefore set
# inline on the queues, not as separate attribute resources, so only the
# dead-letter queue and then its source queue wait, in two layers for all
# subscribers at once (docs/terraform_on_moto.md).
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  tags = merge({ "idp-kit" = "ingestion" }, var.tags)

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # Constructed ARNs let a resource name another that does not exist yet without a dependency (or a cycle).
  bucket_arn     = "arn:${local.partition}:s3:::${var.bucket_name}"
  sqs_arn_prefix = "arn:${local.partition}:sqs:${local.region}:${local.account_id}"
  queue_arns     = { for name in keys(var.sqs_subscribers) : name => "${local.sqs_arn_prefix}:${name}" }
  dlq_names      = { for name in keys(var.sqs_subscribers) : name => "${name}${var.dlq_suffix}" }

  # One notification per suffix, or one for the prefix alone. Duplicates would be refused by S3 as overlapping.
  notification_suffixes = length(var.watched_suffixes) > 0 ? distinct(var.watched_suffixes) : [null]

  # What the bucket tells the topic: new revisions, and removals (the job marks the document deleted). Not
  # s3:LifecycleExpiration:*: the noncurrent-version rule below would announce every superseded version's expiry, and
  # the job marks removals by key. idp_kit.infra_spec.NOTIFICATION_EVENTS (tests/test_terraform_static.py holds them equal).
  notification_events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]

  # S3 events reach 64 KB; a smaller MaximumMessageSize silently loses them. 262144 is the SQS maximum.
  max_message_size = 262144
}

################################################################################
# S3 bucket
################################################################################

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs need a separate log bucket; the caller owns logging (CloudTrail data events or its log bucket).
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the caller, not part of the ingestion path.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = local.tags
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  # The poller fetches the exact version an event names.
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.bucket_kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.bucket_kms_key_arn
    }
    # An S3 Bucket Key cuts KMS requests (and cost) for SSE-KMS; it means nothing for SSE-S3.
    bucket_key_enabled = var.bucket_kms_key_arn == null ? null : true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "bucket" {
  count = var.bucket_require_tls ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = var.bucket_require_tls ? 1 : 0

  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket[0].json

  # S3 refuses (or races) a bucket policy written while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  # Noncurrent-version rules need versioning to be configured first.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_notification" "this" {
  bucket = aws_s3_bucket.this.id

  dynamic "topic" {
    for_each = local.notification_suffixes

    content {
      id            = "idp-kit-object-created${topic.value == null ? "" : topic.value}" # e.g. …-created.pdf
      topic_arn     = aws_sns_topic.this.arn
      events        = local.notification_events
      filter_prefix = var.watched_prefix == "" ? null : var.watched_prefix
      filter_suffix = topic.value
    }
  }

  # S3 checks that it may publish when the configuration is saved, and sends an s3:TestEvent at once: the
  # subscriptions (and the queue policies that admit the topic) come first, so the test event — and any upload
  # that races the deploy — reaches every queue rather than a topic with nobody subscribed.
  depends_on = [aws_sns_topic_policy.this, aws_sns_topic_subscription.this]
}

################################################################################
# SNS topic
################################################################################

resource "aws_sns_topic" "this" {
  #checkov:skip=CKV_AWS_26:Encryption is optional (topic_kms_master_key_id): S3 can publish only to a topic whose customer managed key admits s3.amazonaws.com, which this module cannot create for the caller.
  name              = var.topic_name
  kms_master_key_id = var.topic_kms_master_key_id

  tags = local.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "AllowThisBucketInThisAccountToPublish"
    effect    = "Allow"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.this.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

################################################################################
# SQS subscribers: a dead-letter queue, the queue, and the subscription each
################################################################################

resource "aws_sqs_queue" "dlq" {
  for_each = var.sqs_subscribers

  name                      = local.dlq_names[each.key]
  sqs_managed_sse_enabled   = true
  max_message_size          = local.max_message_size
  message_retention_seconds = var.dlq_message_retention_seconds

  # Only the subscriber's own queue may use this DLQ (its ARN is constructed: the queue is created after the DLQ).
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arns[each.key]]
  })

  tags = local.tags
}

data "aws_iam_policy_document" "queue" {
  for_each = var.sqs_subscribers

  statement {
    sid       = "AllowTheTopicToSend"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [local.queue_arns[each.key]]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.this.arn]
    }
  }
}

resource "aws_sqs_queue" "this" {
  for_each = var.sqs_subscribers

  name                       = each.key
  sqs_managed_sse_enabled    = true
  max_message_size           = local.max_message_size
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.message_retention_seconds
  policy                     = data.aws_iam_policy_document.queue[each.key].json

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  tags = local.tags
}

resource "aws_sns_topic_subscription" "this" {
  for_each = var.sqs_subscribers

  topic_arn            = aws_sns_topic.this.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.this[each.key].arn
  raw_message_delivery = each.value.raw_message_delivery
  filter_policy        = each.value.filter_policy
  filter_policy_scope  = each.value.filter_policy == null ? null : each.value.filter_policy_scope
}

################################################################################
# DynamoDB status table
################################################################################

resource "aws_dynamodb_table" "this" {
  name         = var.status_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "document_id"

  attribute {
    name = "document_id"
    type = "S"
  }

  attribute {
    name = "owner"
    type = "S"
  }

  attribute {
    name = "created_at"
    type = "S"
  }

  # A caller's documents, newest first. Sparse: only documents submitted through the API have an owner.
  global_secondary_index {
    name            = "owner-created_at-index"
    hash_key        = "owner"
    range_key       = "created_at" # ISO-8601 UTC: text order is time order
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.status_table_point_in_time_recovery
  }

  ttl {
    attribute_name = var.status_table_ttl_attribute
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.status_table_kms_key_arn
  }

  tags = local.tags
}
