################################################################################
# Inputs. The names and rules are those of idp_kit.infra_spec.IngestionStackSpec:
# `to_tfvars(spec)` writes a terraform.tfvars.json this module accepts as is, and
# every pydantic validator of the spec is a validation block here, with the same meaning.
################################################################################

################################################################################
# S3 bucket
################################################################################

variable "bucket_name" {
  description = "Name of the landing bucket documents are uploaded to (a general purpose bucket name: 3-63 lower-case letters, digits, '.' and '-')."
  type        = string
  default     = "idp-kit-landing"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name: 3-63 characters, lower-case letters, digits, '.' and '-', starting and ending with a letter or digit."
  }
  validation {
    condition = (
      !strcontains(var.bucket_name, "..") && !can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$", var.bucket_name))
    )
    error_message = "bucket_name: no '..' and not an IP address."
  }
  validation {
    condition = !anytrue([
      startswith(var.bucket_name, "xn--"), startswith(var.bucket_name, "sthree-"),
      endswith(var.bucket_name, "-s3alias"), endswith(var.bucket_name, "--ol-s3"), endswith(var.bucket_name, "--x-s3"),
    ])
    error_message = "bucket_name: prefixes xn--/sthree- and suffixes -s3alias/--ol-s3/--x-s3 are reserved by S3."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` empty a non-empty bucket (all object versions). For tests and sandboxes; never in production."
  type        = bool
  default     = false
  nullable    = false
}

variable "bucket_kms_key_arn" {
  description = "ARN of a customer managed KMS key for SSE-KMS (with an S3 Bucket Key). null = SSE-S3 (AES256). The Databricks role then also gets kms:Decrypt on it."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_kms_key_arn == null || try(startswith(var.bucket_kms_key_arn, "arn:"), false)
    error_message = "bucket_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), or null for SSE-S3."
  }
}

variable "bucket_require_tls" {
  description = "Attach a bucket policy denying every request made without TLS (aws:SecureTransport = false). Turn it off only for an emulator: moto cannot evaluate the condition and would refuse every object request."
  type        = bool
  default     = true
  nullable    = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which noncurrent object versions are deleted (1-3650)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition = alltrue([
      floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days,
      var.noncurrent_version_expiration_days >= 1,
      var.noncurrent_version_expiration_days <= 3650,
    ])
    error_message = "noncurrent_version_expiration_days must be a whole number of days from 1 to 3650."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted and their parts deleted (1-365)."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition = alltrue([
      floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days,
      var.abort_incomplete_multipart_upload_days >= 1,
      var.abort_incomplete_multipart_upload_days <= 365,
    ])
    error_message = "abort_incomplete_multipart_upload_days must be a whole number of days from 1 to 365."
  }
}

variable "watched_prefix" {
  description = "Key prefix whose object-created and object-removed events are published (a folder: ends with '/', does not start with it). \"\" watches the whole bucket. Never write outputs under it: that is a notification loop."
  type        = string
  default     = "incoming/"
  nullable    = false

  validation {
    condition = (
      var.watched_prefix == "" || (endswith(var.watched_prefix, "/") && !startswith(var.watched_prefix, "/"))
    )
    error_message = "watched_prefix must end with '/' and not start with it ('' watches the whole bucket)."
  }
}

variable "watched_suffixes" {
  description = "Optional key suffixes (e.g. [\".pdf\", \".docx\"]): only keys under watched_prefix ending with one of them raise events, one notification per suffix. [] = every key under the prefix."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for s in var.watched_suffixes : s != ""])
    error_message = "watched_suffixes must not contain an empty suffix."
  }
  validation {
    condition = alltrue(flatten([
      for a in var.watched_suffixes : [for b in var.watched_suffixes : a == b || !endswith(a, b)]
    ]))
    error_message = "watched_suffixes must not overlap (one ending with another, like \".pdf\" and \"f\"): S3 refuses overlapping notification filters."
  }
  validation {
    condition     = length(distinct(var.watched_suffixes)) == length(var.watched_suffixes)
    error_message = "watched_suffixes names a suffix twice: S3 refuses overlapping notification filters."
  }
}

################################################################################
# SNS topic
################################################################################

variable "topic_name" {
  description = "Name of the SNS topic the bucket publishes its object-created and object-removed events to (1-256 letters, digits, '-' or '_')."
  type        = string
  default     = "idp-kit-object-created"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,256}$", var.topic_name))
    error_message = "topic_name: 1-256 letters, digits, '-' or '_'."
  }
}

variable "topic_kms_master_key_id" {
  description = "KMS key (id, alias or ARN) for SNS server-side encryption; null = unencrypted. S3 can publish only with a customer managed key whose key policy lets s3.amazonaws.com use it (kms:GenerateDataKey*, kms:Decrypt): not the AWS managed alias/aws/sns."
  type        = string
  default     = null

  validation {
    condition     = var.topic_kms_master_key_id == null || try(length(var.topic_kms_master_key_id) > 0, false)
    error_message = "topic_kms_master_key_id must be a KMS key id, alias or ARN, or null for an unencrypted topic (not \"\")."
  }
}

################################################################################
# SQS subscribers
################################################################################

variable "sqs_subscribers" {
  description = <<-EOT
    Subscriber queues, name => settings. Each gets a queue, a dead-letter queue (name + dlq_suffix), a queue policy
    letting only the topic send, and an SNS subscription. Settings (all optional):
    filter_policy (SNS filter policy as JSON text; null = every event), filter_policy_scope ("MessageBody" or
    "MessageAttributes"; S3 events carry no message attributes), raw_message_delivery (true: the SQS body is the S3
    event itself, not the SNS envelope), visibility_timeout_seconds (0-43200), max_receive_count (deliveries before
    the DLQ, 1-1000), message_retention_seconds (60-1209600).
  EOT
  type = map(object({
    filter_policy              = optional(string)
    filter_policy_scope        = optional(string, "MessageBody")
    raw_message_delivery       = optional(bool, false)
    visibility_timeout_seconds = optional(number, 300)
    max_receive_count          = optional(number, 5)
    message_retention_seconds  = optional(number, 345600)
  }))
  default = {
    "idp-kit-ingest" = {}
    "idp-kit-audit"  = {}
  }
  nullable = false

  validation {
    condition     = length(var.sqs_subscribers) > 0
    error_message = "sqs_subscribers must name at least one queue."
  }
  validation {
    condition = alltrue([
      for name in keys(var.sqs_subscribers) : can(regex("^[A-Za-z0-9_-]{1,80}$", "${name}${var.dlq_suffix}"))
    ])
    error_message = "sqs_subscribers keys: queue names (with dlq_suffix \"${var.dlq_suffix}\") are 1-80 letters, digits, '-' or '_'."
  }
  validation {
    condition = alltrue([
      for s in values(var.sqs_subscribers) : contains(["MessageBody", "MessageAttributes"], s.filter_policy_scope)
    ])
    error_message = "sqs_subscribers: filter_policy_scope must be \"MessageBody\" or \"MessageAttributes\"."
  }
  validation {
    condition = alltrue([
      # null passes (nothing to decode); otherwise a JSON object with at least one key
      for s in values(var.sqs_subscribers) : try(length(keys(jsondecode(s.filter_policy))) > 0, s.filter_policy == null)
    ])
    error_message = "sqs_subscribers: filter_policy must be a non-empty JSON object (an SNS filter policy); omit it (null) to receive every event."
  }
  validation {
    condition = alltrue(flatten([for s in values(var.sqs_subscribers) : [
      floor(s.visibility_timeout_seconds) == s.visibility_timeout_seconds,
      s.visibility_timeout_seconds >= 0,
      s.visibility_timeout_seconds <= 43200,
    ]]))
    error_message = "sqs_subscribers: visibility_timeout_seconds must be a whole number from 0 to 43200 (12 hours)."
  }
  validation {
    condition = alltrue(flatten([for s in values(var.sqs_subscribers) : [
      floor(s.max_receive_count) == s.max_receive_count,
      s.max_receive_count >= 1,
      s.max_receive_count <= 1000,
    ]]))
    error_message = "sqs_subscribers: max_receive_count must be a whole number from 1 to 1000."
  }
  validation {
    condition = alltrue(flatten([for s in values(var.sqs_subscribers) : [
      floor(s.message_retention_seconds) == s.message_retention_seconds,
      s.message_retention_seconds >= 60,
      s.message_retention_seconds <= 1209600,
    ]]))
    error_message = "sqs_subscribers: message_retention_seconds must be a whole number from 60 (1 minute) to 1209600 (14 days)."
  }
}

variable "ingest_subscriber" {
  description = "The subscriber the ingestion job polls (IDP_INGEST_QUEUE); must be a key of sqs_subscribers."
  type        = string
  default     = "idp-kit-ingest"
  nullable    = false

  validation {
    condition     = contains(keys(var.sqs_subscribers), var.ingest_subscriber)
    error_message = "ingest_subscriber \"${var.ingest_subscriber}\" is not one of sqs_subscribers ${jsonencode(keys(var.sqs_subscribers))}."
  }
}

variable "dlq_suffix" {
  description = "Appended to a subscriber's name to name its dead-letter queue (1-79 characters)."
  type        = string
  default     = "-dlq"
  nullable    = false

  validation {
    condition     = length(var.dlq_suffix) >= 1 && length(var.dlq_suffix) <= 79
    error_message = "dlq_suffix must be 1-79 characters: a dead-letter queue's name is its queue's name plus this suffix."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long dead letters are kept (60-1209600 s; default 14 days, the SQS maximum)."
  type        = number
  default     = 1209600
  nullable    = false

  validation {
    condition = alltrue([
      floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds,
      var.dlq_message_retention_seconds >= 60,
      var.dlq_message_retention_seconds <= 1209600,
    ])
    error_message = "dlq_message_retention_seconds must be a whole number from 60 (1 minute) to 1209600 (14 days)."
  }
}

################################################################################
# DynamoDB status table
################################################################################

variable "status_table_name" {
  description = "Name of the DynamoDB document status table (3-255 letters, digits, '_', '-' or '.')."
  type        = string
  default     = "idp-kit-document-status"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.status_table_name))
    error_message = "status_table_name: 3-255 letters, digits, '_', '-' or '.'."
  }
}

variable "status_table_ttl_attribute" {
  description = "Attribute holding an item's expiry (epoch seconds); DynamoDB deletes the item after it."
  type        = string
  default     = "expires_at"
  nullable    = false

  validation {
    condition     = length(var.status_table_ttl_attribute) >= 1 && length(var.status_table_ttl_attribute) <= 255
    error_message = "status_table_ttl_attribute must be an attribute name of 1-255 characters."
  }
}

variable "status_table_point_in_time_recovery" {
  description = "Enable point-in-time recovery (continuous backups, 35 days) on the status table."
  type        = bool
  default     = true
  nullable    = false
}

variable "status_table_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the status table (and the API keys and idempotency tables); null = the AWS managed key for DynamoDB (aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.status_table_kms_key_arn == null || try(startswith(var.status_table_kms_key_arn, "arn:"), false)
    error_message = "status_table_kms_key_arn must be a KMS key ARN, or null for the AWS managed key."
  }
}

################################################################################
# The Document Processing API's data layer: tables and the completion topic
################################################################################

variable "api_keys_table_name" {
  description = "Name of the DynamoDB table of hashed API keys and per-caller rate windows (3-255 letters, digits, '_', '-' or '.'). Encryption and point-in-time recovery as the status table's."
  type        = string
  default     = "idp-kit-api-keys"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.api_keys_table_name))
    error_message = "api_keys_table_name: 3-255 letters, digits, '_', '-' or '.'."
  }
}

variable "idempotency_table_name" {
  description = "Name of the DynamoDB table of the API's idempotency records (Powertools' defaults: key `id`, TTL `expiration`; 3-255 letters, digits, '_', '-' or '.'). Encrypted as the status table."
  type        = string
  default     = "idp-kit-idempotency"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.idempotency_table_name))
    error_message = "idempotency_table_name: 3-255 letters, digits, '_', '-' or '.'."
  }
  validation {
    condition     = length(distinct([var.status_table_name, var.api_keys_table_name, var.idempotency_table_name])) == 3
    error_message = "status_table_name, api_keys_table_name, idempotency_table_name must be three different tables."
  }
}

variable "completion_topic_name" {
  description = "Name of the SNS topic told of every finished API document (1-256 letters, digits, '-' or '_'; encrypted with alias/aws/sns). null = no completion topic and no callback queue."
  type        = string
  default     = "idp-kit-document-completed"

  validation {
    condition     = var.completion_topic_name == null || can(regex("^[A-Za-z0-9_-]{1,256}$", var.completion_topic_name))
    error_message = "completion_topic_name: 1-256 letters, digits, '-' or '_', or null for no completion topic."
  }
  validation {
    condition     = var.completion_topic_name != var.topic_name
    error_message = "completion_topic_name is the topic_name: the completion topic must be a topic of its own."
  }
}

variable "completion_callback_queue_name" {
  description = "Name of the queue subscribed to the completion topic for messages with has_callback = \"true\" (raw delivery; a DLQ named with dlq_suffix). null = \"<completion_topic_name>-callbacks\"."
  type        = string
  default     = null

  validation {
    condition     = var.completion_callback_queue_name == null || var.completion_topic_name != null
    error_message = "completion_callback_queue_name is set but completion_topic_name is null: the callback queue needs the completion topic."
  }
  validation {
    # a conditional, not ||: Terraform evaluates both sides of ||, and a null topic name cannot be interpolated.
    # An invalid topic name is reported by its own check only.
    condition = !can(regex("^[A-Za-z0-9_-]{1,256}$", var.completion_topic_name)) ? true : can(regex("^[A-Za-z0-9_-]{1,80}$",
    "${coalesce(var.completion_callback_queue_name, "${var.completion_topic_name}-callbacks")}${var.dlq_suffix}"))
    error_message = "completion callback queue: queue names (with dlq_suffix \"${var.dlq_suffix}\") are 1-80 letters, digits, '-' or '_' (set completion_callback_queue_name when <completion_topic_name>-callbacks is too long)."
  }
  validation {
    condition = var.completion_topic_name == null ? true : length(setintersection(
      formatlist("%s%s", coalesce(var.completion_callback_queue_name, "${var.completion_topic_name}-callbacks"), ["", var.dlq_suffix]),
      flatten([for q in keys(var.sqs_subscribers) : [q, "${q}${var.dlq_suffix}"]]),
    )) == 0
    error_message = "completion callback queue (or its DLQ) is also a subscriber queue: choose another completion_callback_queue_name."
  }
}

################################################################################
# The Document Processing API's compute: Lambda functions and the HTTP API
################################################################################

variable "api_enabled" {
  description = "Deploy the API's three Lambda functions (API, authorizer, callback deliverer) and the HTTP API in front of them. false = the ingestion path and the API's data layer only."
  type        = bool
  default     = true
  nullable    = false
}

variable "api_name" {
  description = "Name of the HTTP API, and of its functions and their roles: <api_name>, <api_name>-authorizer, <api_name>-callbacks (1-53 letters, digits, '-' or '_')."
  type        = string
  default     = "idp-kit-api"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,53}$", var.api_name))
    error_message = "api_name: 1-53 letters, digits, '-' or '_' (function names add up to 11 characters, and may have 64)."
  }
}

variable "api_auth" {
  description = "How callers prove who they are: \"api_key\" (the x-api-key header, checked by the Lambda authorizer) or \"iam\" (SigV4: the route's AWS_IAM authorization)."
  type        = string
  default     = "api_key"
  nullable    = false

  validation {
    condition     = contains(["api_key", "iam"], var.api_auth)
    error_message = "api_auth must be \"api_key\" or \"iam\"."
  }
}

variable "api_signing_secret" {
  description = "Signs page tokens and completion callbacks (IDP_API_SIGNING_SECRET, at least 32 characters); required while api_enabled. Sensitive: goes into the API's and the deliverer's environment (hardening: Secrets Manager, see docs/deploying.md)."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = !var.api_enabled || try(length(var.api_signing_secret) >= 32, false)
    error_message = "api_signing_secret must be at least 32 characters while api_enabled is true (it signs page tokens and callbacks), or set api_enabled to false."
  }
}

variable "api_upload_prefix" {
  description = "Uploads asked for through the API land under watched_prefix + this (a folder: ends with '/', does not start with it); the API may put and delete objects there only."
  type        = string
  default     = "api/"
  nullable    = false

  validation {
    condition     = endswith(var.api_upload_prefix, "/") && !startswith(var.api_upload_prefix, "/")
    error_message = "api_upload_prefix must be a folder relative to watched_prefix: ends with '/', does not start with it."
  }
}

variable "api_readable_buckets" {
  description = "Buckets a submission may reference by s3:// URI (the API function may read their objects). [] = the landing bucket only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for b in var.api_readable_buckets : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", b))])
    error_message = "api_readable_buckets: bucket names of 3-63 lower-case letters, digits, '.' and '-'."
  }
}

variable "api_routes" {
  description = "The route overrides a submit may ask for (IDP_API_ROUTES): lower-case names of a-z, 0-9, '_' and '-'."
  type        = list(string)
  default     = ["default"]
  nullable    = false

  validation {
    condition     = length(var.api_routes) > 0 && alltrue([for r in var.api_routes : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", r))])
    error_message = "api_routes must be a non-empty list of lower-case names (a-z, 0-9, _ and -)."
  }
}

variable "api_rate_per_minute" {
  description = "Requests per caller per minute before the API answers 429 (IDP_API_RATE_PER_MINUTE; 1-1000000)."
  type        = number
  default     = 600
  nullable    = false

  validation {
    condition     = floor(var.api_rate_per_minute) == var.api_rate_per_minute && var.api_rate_per_minute >= 1 && var.api_rate_per_minute <= 1000000
    error_message = "api_rate_per_minute must be a whole number from 1 to 1000000."
  }
}

variable "api_max_document_bytes" {
  description = "The largest document a submission may name (IDP_MAX_DOCUMENT_BYTES; >= 1)."
  type        = number
  default     = 104857600
  nullable    = false

  validation {
    condition     = floor(var.api_max_document_bytes) == var.api_max_document_bytes && var.api_max_document_bytes >= 1
    error_message = "api_max_document_bytes must be a whole number of bytes, at least 1."
  }
}

variable "api_throttling_burst_limit" {
  description = "The $default stage's burst limit for every route, all callers together (0-5000)."
  type        = number
  default     = 200
  nullable    = false

  validation {
    condition     = floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit && var.api_throttling_burst_limit >= 0 && var.api_throttling_burst_limit <= 5000
    error_message = "api_throttling_burst_limit must be a whole number from 0 to 5000."
  }
}

variable "api_throttling_rate_limit" {
  description = "The $default stage's steady rate for every route, requests per second, all callers together (0-10000)."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = floor(var.api_throttling_rate_limit) == var.api_throttling_rate_limit && var.api_throttling_rate_limit >= 0 && var.api_throttling_rate_limit <= 10000
    error_message = "api_throttling_rate_limit must be a whole number from 0 to 10000."
  }
}

variable "api_reserved_concurrency" {
  description = "Concurrent executions reserved for the API function (and its cap); null = unreserved, sharing the account's pool."
  type        = number
  default     = null

  validation {
    condition     = var.api_reserved_concurrency == null || try(floor(var.api_reserved_concurrency) == var.api_reserved_concurrency && var.api_reserved_concurrency >= 1, false)
    error_message = "api_reserved_concurrency must be a whole number of at least 1, or null for unreserved."
  }
}

variable "api_timeout_seconds" {
  description = "The API function's timeout (1-30 s: an HTTP API integration gives up after 30 s)."
  type        = number
  default     = 29
  nullable    = false

  validation {
    condition     = floor(var.api_timeout_seconds) == var.api_timeout_seconds && var.api_timeout_seconds >= 1 && var.api_timeout_seconds <= 30
    error_message = "api_timeout_seconds must be a whole number from 1 to 30."
  }
}

variable "callbacks_timeout_seconds" {
  description = "The callback deliverer's timeout (1-900 s); the callback queue's visibility timeout is 6 times this."
  type        = number
  default     = 50
  nullable    = false

  validation {
    condition     = floor(var.callbacks_timeout_seconds) == var.callbacks_timeout_seconds && var.callbacks_timeout_seconds >= 1 && var.callbacks_timeout_seconds <= 900
    error_message = "callbacks_timeout_seconds must be a whole number from 1 to 900."
  }
}

variable "callbacks_batch_size" {
  description = "Callback messages per invocation of the deliverer (1-10)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = floor(var.callbacks_batch_size) == var.callbacks_batch_size && var.callbacks_batch_size >= 1 && var.callbacks_batch_size <= 10
    error_message = "callbacks_batch_size must be a whole number from 1 to 10."
  }
}

variable "lambda_memory_mb" {
  description = "Memory of each function, MB (128-10240; CPU grows with it)."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = floor(var.lambda_memory_mb) == var.lambda_memory_mb && var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_architecture" {
  description = "The functions' architecture, \"x86_64\" or \"arm64\": the one the zip was built for (`idp-kit build --architecture`)."
  type        = string
  default     = "x86_64"
  nullable    = false

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "lambda_zip_path" {
  description = "The functions' code: the zip `idp-kit build` writes (dist/idp_kit_lambda.zip), relative to where Terraform runs, or absolute."
  type        = string
  default     = "dist/idp_kit_lambda.zip"
  nullable    = false

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must name a .zip file (the one `idp-kit build` writes)."
  }
}

variable "lambda_zip_base64sha256" {
  description = "The zip's base64sha256 from dist/manifest.json (the functions' source_code_hash); null = filebase64sha256(lambda_zip_path)."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_zip_base64sha256 == null || can(regex("^[A-Za-z0-9+/]{43}=$", var.lambda_zip_base64sha256))
    error_message = "lambda_zip_base64sha256 must be a base64 SHA-256 (44 characters ending in '='), or null to hash the file."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' and the access log's log groups, in days (a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the log groups (its key policy must admit logs.<region>.amazonaws.com); null = CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || try(startswith(var.log_kms_key_arn, "arn:"), false)
    error_message = "log_kms_key_arn must be a KMS key ARN, or null."
  }
}

variable "databricks_host" {
  description = "The Databricks workspace URL the API reads results from (DATABRICKS_HOST, https://...); null = none."
  type        = string
  default     = null

  validation {
    condition     = var.databricks_host == null || try(startswith(var.databricks_host, "https://"), false)
    error_message = "databricks_host must be the workspace URL, starting with https://, or null."
  }
}

variable "databricks_token" {
  description = "A token for databricks_host (DATABRICKS_TOKEN); null = none. Sensitive: goes into the API function's environment (hardening: Secrets Manager, or OAuth M2M, see docs/deploying.md)."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.databricks_token == null || var.databricks_host != null
    error_message = "databricks_token is set but databricks_host is not: set the workspace URL (https://...) the token is for."
  }
}

variable "databricks_warehouse_id" {
  description = "The SQL warehouse the API reads results through (IDP_DATABRICKS_WAREHOUSE_ID); null = none."
  type        = string
  default     = null

  validation {
    condition     = var.databricks_warehouse_id == null || try(length(var.databricks_warehouse_id) > 0, false)
    error_message = "databricks_warehouse_id must not be \"\": null for none."
  }
}

variable "delta_schema" {
  description = "The schema of the kit's Delta tables (IDP_DELTA_SCHEMA): `catalog.schema` on Databricks, `schema` locally."
  type        = string
  default     = "idp_kit"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+(\\.[A-Za-z0-9_]+)?$", var.delta_schema))
    error_message = "delta_schema must be `schema` or `catalog.schema` (letters, digits and '_')."
  }
}

################################################################################
# Databricks job role
################################################################################

variable "create_databricks_role" {
  description = "Create the IAM role the Databricks job assumes (a Unity Catalog service credential, or an instance profile's role)."
  type        = bool
  default     = true
  nullable    = false
}

variable "databricks_role_name" {
  description = "Name of the Databricks job role (1-64 characters of [A-Za-z0-9+=,.@_-])."
  type        = string
  default     = "idp-kit-databricks-job"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.databricks_role_name))
    error_message = "databricks_role_name: 1-64 characters of [A-Za-z0-9+=,.@_-]."
  }
}

variable "databricks_principal_arn" {
  description = "The Databricks principal trusted to assume the role. Default: Databricks' published Unity Catalog master role."
  type        = string
  default     = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
  nullable    = false

  validation {
    condition     = startswith(var.databricks_principal_arn, "arn:")
    error_message = "databricks_principal_arn must be an IAM principal ARN (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "databricks_external_id" {
  description = "Your Databricks account id: the sts:ExternalId the role's trust requires. Required when create_databricks_role is true."
  type        = string
  default     = null

  validation {
    # Without it the trust would admit any workspace of the Databricks principal (the confused deputy).
    condition     = !var.create_databricks_role || try(length(var.databricks_external_id) > 0, false)
    error_message = "databricks_external_id is required when create_databricks_role is true: set it to your Databricks account id."
  }
}

################################################################################
# Alarms and tags
################################################################################

variable "alarm_topic_arn" {
  description = "SNS topic ARN the CloudWatch alarms notify (alarm and OK); null = alarms without actions."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || try(startswith(var.alarm_topic_arn, "arn:"), false)
    error_message = "alarm_topic_arn must be an SNS topic ARN, or null for alarms without actions."
  }
}

variable "dlq_depth_alarm_threshold" {
  description = "Alarm when a dead-letter queue holds at least this many visible messages (>= 1)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition = alltrue([
      floor(var.dlq_depth_alarm_threshold) == var.dlq_depth_alarm_threshold,
      var.dlq_depth_alarm_threshold >= 1,
    ])
    error_message = "dlq_depth_alarm_threshold must be a whole number of messages, at least 1."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when a subscriber queue's oldest message is at least this old (60-1209600 s)."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition = alltrue([
      floor(var.oldest_message_alarm_seconds) == var.oldest_message_alarm_seconds,
      var.oldest_message_alarm_seconds >= 60,
      var.oldest_message_alarm_seconds <= 1209600,
    ])
    error_message = "oldest_message_alarm_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "tags" {
  description = "Tags for every taggable resource, merged over { \"idp-kit\" = \"ingestion\" }."
  type        = map(string)
  default     = {}
  nullable    = false
}
