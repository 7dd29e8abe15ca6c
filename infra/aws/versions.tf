terraform {
  # 1.9: input validations may refer to other variables (ingest_subscriber, dlq_suffix, the role's external id).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Tested with 5.100.0. 6.x renames data.aws_region's `name` and adds per-resource regions: not yet tested.
      version = ">= 5.70, < 6.0"
    }
  }
}
