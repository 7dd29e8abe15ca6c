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
  description = "ARN of the SNS topic the bucket publishes object-created events to."
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
# DynamoDB status table and the Databricks role
################################################################################

output "status_table_name" {
  description = "Name of the DynamoDB status table (IDP_STATUS_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "status_table_arn" {
  description = "ARN of the DynamoDB status table."
  value       = aws_dynamodb_table.this.arn
}

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
  description = "IDP_* environment variable name => string value: the settings idp_kit's job, CLI and notebooks read for this stack (`idp-kit settings from-terraform`)."
  value = {
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
  }
}
