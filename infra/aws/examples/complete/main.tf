################################################################################
# A complete ingestion stack: three subscribers, one of which receives PDFs only,
# and the Document Processing API (its functions run the zip `idp-kit build`
# wrote, named by dist/manifest.json). Against real AWS: set bucket_name,
# databricks_external_id and api_signing_secret. Against a local emulator (moto)
# also set aws_endpoint_url; nothing else changes.
################################################################################

locals {
  local_emulator = var.aws_endpoint_url != null

  # What `idp-kit build` made: the zip's file name and hash, beside the manifest.
  manifest   = jsondecode(file(var.manifest_path))
  lambda_zip = local.manifest.artifacts.lambda_zip
}

provider "aws" {
  region = var.region

  # Only for a local emulator: fixed credentials, no AWS-side checks, path-style S3, fail fast.
  access_key                  = local.local_emulator ? "testing" : null
  secret_key                  = local.local_emulator ? "testing" : null
  skip_credentials_validation = local.local_emulator
  skip_metadata_api_check     = local.local_emulator
  skip_region_validation      = local.local_emulator
  s3_use_path_style           = local.local_emulator
  max_retries                 = local.local_emulator ? 2 : null

  endpoints {
    apigatewayv2 = var.aws_endpoint_url
    cloudwatch   = var.aws_endpoint_url
    dynamodb     = var.aws_endpoint_url
    iam          = var.aws_endpoint_url
    kms          = var.aws_endpoint_url
    lambda       = var.aws_endpoint_url
    logs         = var.aws_endpoint_url
    s3           = var.aws_endpoint_url
    sns          = var.aws_endpoint_url
    sqs          = var.aws_endpoint_url
    sts          = var.aws_endpoint_url
  }
}

module "ingestion" {
  source = "../.."

  bucket_name   = var.bucket_name
  force_destroy = true # an example: let destroy empty the bucket
  # moto cannot evaluate the TLS-only policy's condition and would refuse every object request: off on an emulator.
  bucket_require_tls = var.aws_endpoint_url == null

  watched_prefix = "incoming/"

  sqs_subscribers = {
    "idp-kit-ingest" = {}                              # the job's queue: SNS envelope, 300 s visibility, 5 receives
    "idp-kit-audit"  = { raw_message_delivery = true } # the S3 event itself as the body
    "idp-kit-pdf" = {
      # S3 events carry no message attributes: filter on the body. Keys ending in .pdf only.
      filter_policy     = jsonencode({ Records = { s3 = { object = { key = [{ suffix = ".pdf" }] } } } })
      max_receive_count = 3
    }
  }
  ingest_subscriber = "idp-kit-ingest"

  databricks_external_id = var.databricks_external_id
  alarm_topic_arn        = var.alarm_topic_arn

  # The API: the build's zip (its hash from the manifest, so an unchanged zip deploys nothing), the signing secret.
  lambda_zip_path         = "${dirname(var.manifest_path)}/${local.lambda_zip.file}"
  lambda_zip_base64sha256 = local.lambda_zip.base64sha256
  lambda_architecture     = local.lambda_zip.architecture
  api_signing_secret      = var.api_signing_secret

  tags = var.tags
}
