output "bucket_name" {
  description = "Name of the landing bucket."
  value       = module.ingestion.bucket_name
}

output "topic_arn" {
  description = "ARN of the object-created topic."
  value       = module.ingestion.topic_arn
}

output "queues" {
  description = "Per subscriber: url, arn, dlq_url, dlq_arn and subscription_arn."
  value       = module.ingestion.queues
}

output "ingest_queue_url" {
  description = "URL of the queue the ingestion job polls."
  value       = module.ingestion.ingest_queue_url
}

output "status_table_name" {
  description = "Name of the DynamoDB status table."
  value       = module.ingestion.status_table_name
}

output "api_url" {
  description = "The API's invoke URL (IDP_API_URL)."
  value       = module.ingestion.api_url
}

output "databricks_role_arn" {
  description = "ARN of the role the Databricks job assumes."
  value       = module.ingestion.databricks_role_arn
}

output "idp_kit_settings" {
  description = "IDP_* environment variables for the job, the CLI and the notebooks."
  value       = module.ingestion.idp_kit_settings
}
