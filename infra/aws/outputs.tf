################################################################################
# S3 bucket and SNS topic
################################################################################

output "bucket_name" {
  description = "Name of the landing bucket (IDP_BUCKET)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the landing bucket."
  value       = aws_s3_bucket.this.arn
}

output "topic_arn" {
  description = "ARN of the SNS topic the bucket publishes its object-created and object-removed events to."
  value       = aws_sns_topic.this.arn
}

################################################################################
# SQS subscribers
################################################################################

output "queues" {
  description = "Per subscriber: the queue's url and arn, its dead-letter queue's dlq_url and dlq_arn, and the subscription_arn."
  value = {
    for name in keys(var.sqs_subscribers) : name => {
      url              = aws_sqs_queue.this[name].url
      arn              = aws_sqs_queue.this[name].arn
      dlq_url          = aws_sqs_queue.dlq[name].url
      dlq_arn          = aws_sqs_queue.dlq[name].arn
      subscription_arn = aws_sns_topic_subscription.this[name].arn
    }
  }
}

output "queue_urls" {
  description = "Subscriber name => queue URL."
  value       = { for name, q in aws_sqs_queue.this : name => q.url }
}

output "queue_arns" {
  description = "Subscriber name => queue ARN."
  value       = { for name, q in aws_sqs_queue.this : name => q.arn }
}

output "dlq_urls" {
  description = "Subscriber name => dead-letter queue URL."
  value       = { for name, q in aws_sqs_queue.dlq : name => q.url }
}

output "dlq_arns" {
  description = "Subscriber name => dead-letter queue ARN."
  value       = { for name, q in aws_sqs_queue.dlq : name => q.arn }
}

output "ingest_queue_url" {
  description = "URL of the queue the ingestion job polls (the ingest_subscriber's)."
  value       = aws_sqs_queue.this[var.ingest_subscriber].url
}

################################################################################
# DynamoDB status table
################################################################################

output "status_table_name" {
  description = "Name of the DynamoDB status table (IDP_STATUS_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "status_table_arn" {
  description = "ARN of the DynamoDB status table."
  value       = aws_dynamodb_table.this.arn
}

################################################################################
# The API's tables, the completion topic and its callback queue
################################################################################

output "api_keys_table_name" {
  description = "Name of the DynamoDB API keys table (IDP_API_KEYS_TABLE)."
  value       = aws_dynamodb_table.api_keys.name
}

output "api_keys_table_arn" {
  description = "ARN of the DynamoDB API keys table."
  value       = aws_dynamodb_table.api_keys.arn
}

output "idempotency_table_name" {
  description = "Name of the DynamoDB idempotency table (IDP_IDEMPOTENCY_TABLE)."
  value       = aws_dynamodb_table.idempotency.name
}

output "idempotency_table_arn" {
  description = "ARN of the DynamoDB idempotency table."
  value       = aws_dynamodb_table.idempotency.arn
}

output "completion_topic_arn" {
  description = "ARN of the SNS topic told of every finished API document; null without a completion topic."
  value       = one(aws_sns_topic.completion[*].arn)
}

output "completion_callback_queue_url" {
  description = "URL of the queue receiving the completion messages of documents with a callback; null without a completion topic."
  value       = one(aws_sqs_queue.callback[*].url)
}

output "completion_callback_queue_arn" {
  description = "ARN of the completion callback queue; null without a completion topic."
  value       = one(aws_sqs_queue.callback[*].arn)
}

output "completion_callback_dlq_url" {
  description = "URL of the completion callback queue's dead-letter queue; null without a completion topic."
  value       = one(aws_sqs_queue.callback_dlq[*].url)
}

output "completion_callback_dlq_arn" {
  description = "ARN of the completion callback queue's dead-letter queue; null without a completion topic."
  value       = one(aws_sqs_queue.callback_dlq[*].arn)
}

################################################################################
# The API's functions and HTTP API
################################################################################

output "api_url" {
  description = "The API's invoke URL (its $default stage; IDP_API_URL); null when api_enabled is false."
  value       = one(aws_apigatewayv2_stage.this[*].invoke_url)
}

output "api_id" {
  description = "The HTTP API's id; null when api_enabled is false."
  value       = one(aws_apigatewayv2_api.this[*].id)
}

output "lambda_functions" {
  description = "Per function the stack deploys (api; authorizer with api_auth = \"api_key\"; callbacks with a completion topic): its name, arn, role_arn and log_group. {} when api_enabled is false."
  value = {
    for k, f in aws_lambda_function.this : k => {
      name      = f.function_name
      arn       = f.arn
      role_arn  = aws_iam_role.lambda[k].arn
      log_group = aws_cloudwatch_log_group.lambda[k].name
    }
  }
}

################################################################################
# The Databricks role and the region
################################################################################

output "databricks_role_arn" {
  description = "ARN of the role the Databricks job assumes (for the UC service credential); null when create_databricks_role is false."
  value       = one(aws_iam_role.this[*].arn)
}

output "region" {
  description = "The AWS region the stack was deployed to (IDP_AWS_REGION)."
  value       = local.region
}

################################################################################
# Everything the kit reads, in one object
################################################################################

output "idp_kit_settings" {
  description = "IDP_* environment variable name => string value: the settings idp_kit's job, CLI and notebooks read for this stack (`idp-kit settings from-terraform`); with the API, its URL and auth mode too."
  value       = local.idp_kit_settings
}

locals {
  idp_kit_settings = merge({
    IDP_AWS_REGION           = local.region
    IDP_BUCKET               = aws_s3_bucket.this.id
    IDP_WATCHED_PREFIX       = var.watched_prefix
    IDP_TOPIC_NAME           = aws_sns_topic.this.name
    IDP_SUBSCRIBER_QUEUES    = jsonencode([for name, q in aws_sqs_queue.this : q.name])
    IDP_INGEST_QUEUE         = aws_sqs_queue.this[var.ingest_subscriber].name
    IDP_INGEST_QUEUE_URL     = aws_sqs_queue.this[var.ingest_subscriber].url
    IDP_DLQ_SUFFIX           = var.dlq_suffix
    IDP_STATUS_TABLE         = aws_dynamodb_table.this.name
    IDP_MAX_RECEIVE_COUNT    = tostring(var.sqs_subscribers[var.ingest_subscriber].max_receive_count)
    IDP_VISIBILITY_TIMEOUT_S = tostring(var.sqs_subscribers[var.ingest_subscriber].visibility_timeout_seconds)
    IDP_API_KEYS_TABLE       = aws_dynamodb_table.api_keys.name
    IDP_IDEMPOTENCY_TABLE    = aws_dynamodb_table.idempotency.name
    IDP_API_AUTH             = var.api_auth
    # "" (not null) without a topic: the settings read "" as "no completion topic", and a missing one as the default name
    IDP_COMPLETION_TOPIC = try(aws_sns_topic.completion[0].name, "")
    # the $default stage serves at the API's endpoint: known once the API exists, without waiting for the stage
  }, var.api_enabled ? { IDP_API_URL = aws_apigatewayv2_api.this[0].api_endpoint } : {})
}
