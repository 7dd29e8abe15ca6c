################################################################################
# The Document Processing API's data layer: its API keys and idempotency tables,
# and the completion topic, told of every finished API document, with a queue
# for the messages of documents whose caller asked for a callback. The API's
# Lambda functions are in lambda.tf, its HTTP API in http_api.tf.
################################################################################

locals {
  completion = var.completion_topic_name == null ? [] : [var.completion_topic_name]

  callback_queue_name = one([for t in local.completion : coalesce(var.completion_callback_queue_name, "${t}-callbacks")])
  callback_dlq_name   = one([for t in local.completion : "${local.callback_queue_name}${var.dlq_suffix}"])
  callback_queue_arn  = one([for t in local.completion : "${local.sqs_arn_prefix}:${local.callback_queue_name}"])
}

################################################################################
# DynamoDB: API keys (and per-caller rate windows), idempotency records
################################################################################

resource "aws_dynamodb_table" "api_keys" {
  name         = var.api_keys_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "key_hash" # the key's SHA-256, never the key

  attribute {
    name = "key_hash"
    type = "S"
  }

  point_in_time_recovery {
    enabled = var.status_table_point_in_time_recovery
  }

  # Rate-limit windows (and keys given an expiry) are deleted after expires_at (epoch seconds).
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.status_table_kms_key_arn
  }

  tags = local.tags
}

resource "aws_dynamodb_table" "idempotency" {
  #checkov:skip=CKV_AWS_28:Idempotency records live minutes to hours; restoring them would replay answers to requests already answered, so point-in-time recovery has nothing to recover.
  name         = var.idempotency_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id" # Powertools' DynamoDBPersistenceLayer defaults: key `id`, TTL `expiration`

  attribute {
    name = "id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = false
  }

  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.status_table_kms_key_arn
  }

  tags = local.tags
}

################################################################################
# SNS completion topic and its callback queue
################################################################################

resource "aws_sns_topic" "completion" {
  count = length(local.completion)

  name = var.completion_topic_name
  # The AWS managed key admits every principal of this account allowed to publish: publishers need no KMS permission.
  kms_master_key_id = "alias/aws/sns"

  tags = local.tags
}

resource "aws_sqs_queue" "callback_dlq" {
  count = length(local.completion)

  name                      = local.callback_dlq_name
  sqs_managed_sse_enabled   = true
  max_message_size          = local.max_message_size
  message_retention_seconds = var.dlq_message_retention_seconds

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.callback_queue_arn]
  })

  tags = local.tags
}

data "aws_iam_policy_document" "callback_queue" {
  count = length(local.completion)

  statement {
    sid       = "AllowTheTopicToSend"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [local.callback_queue_arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.completion[0].arn]
    }
  }
}

resource "aws_sqs_queue" "callback" {
  count = length(local.completion)

  name                       = local.callback_queue_name
  sqs_managed_sse_enabled    = true
  max_message_size           = local.max_message_size
  visibility_timeout_seconds = 6 * var.callbacks_timeout_seconds # Lambda's advice for an SQS event source: 6 x the function's timeout
  message_retention_seconds  = 345600
  policy                     = data.aws_iam_policy_document.callback_queue[0].json

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.callback_dlq[0].arn
    maxReceiveCount     = 5
  })

  tags = local.tags
}

resource "aws_sns_topic_subscription" "callback" {
  count = length(local.completion)

  topic_arn            = aws_sns_topic.completion[0].arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.callback[0].arn
  raw_message_delivery = true
  # Only the documents whose caller gave a callback URL: the publisher sets this message attribute.
  filter_policy       = jsonencode({ has_callback = ["true"] })
  filter_policy_scope = "MessageAttributes"
}
