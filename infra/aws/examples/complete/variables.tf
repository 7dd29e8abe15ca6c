variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "aws_endpoint_url" {
  description = "Endpoint of a local AWS emulator (moto, e.g. http://127.0.0.1:5000) for every service; null = real AWS. See docs/terraform_on_moto.md."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Landing bucket name: bucket names are global, so choose your own."
  type        = string
}

variable "databricks_external_id" {
  description = "Your Databricks account id (the external id the job role's trust requires)."
  type        = string
}

variable "manifest_path" {
  description = "The manifest `idp-kit build` writes beside the Lambda zip (run it from the repository root first)."
  type        = string
  default     = "../../../../dist/manifest.json"
}

variable "api_signing_secret" {
  description = "Signs the API's page tokens and callbacks: at least 32 random characters (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
  type        = string
  sensitive   = true
}

variable "alarm_topic_arn" {
  description = "Optional SNS topic ARN for the CloudWatch alarms; null = alarms without actions."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { "environment" = "example" }
}
