################################################################################
# The HTTP API (API Gateway v2) in front of the API function: every route under
# /v1 behind the Lambda authorizer (api_auth = "api_key") or SigV4 ("iam"), the
# OpenAPI document open to anyone, one auto-deployed $default stage, throttled,
# with a JSON access log.
################################################################################

locals {
  http_api = var.api_enabled ? 1 : 0
  api_key  = var.api_enabled && var.api_auth == "api_key" ? 1 : 0
}

resource "aws_apigatewayv2_api" "this" {
  count = local.http_api

  name          = var.api_name
  description   = "idp_kit Document Processing API"
  protocol_type = "HTTP"

  tags = local.tags
}

resource "aws_apigatewayv2_integration" "this" {
  count = local.http_api

  api_id                 = aws_apigatewayv2_api.this[0].id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.this["api"].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_authorizer" "api_key" {
  count = local.api_key

  api_id                            = aws_apigatewayv2_api.this[0].id
  name                              = "${var.api_name}-api-key"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.this["authorizer"].invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = ["$request.header.x-api-key"]
  authorizer_result_ttl_in_seconds  = 300 # idp_kit.api_server caches as long: AUTHORIZER_CACHE_TTL_S
}

resource "aws_apigatewayv2_route" "proxy" {
  count = local.http_api

  api_id             = aws_apigatewayv2_api.this[0].id
  route_key          = "ANY /v1/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.this[0].id}"
  authorization_type = var.api_auth == "api_key" ? "CUSTOM" : "AWS_IAM"
  authorizer_id      = one(aws_apigatewayv2_authorizer.api_key[*].id)
}

resource "aws_apigatewayv2_route" "openapi" {
  #checkov:skip=CKV_AWS_309:The OpenAPI document is the API's public contract: clients read it before they hold a key.
  count = local.http_api

  api_id             = aws_apigatewayv2_api.this[0].id
  route_key          = "GET /v1/openapi.json"
  target             = "integrations/${aws_apigatewayv2_integration.this[0].id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (log_retention_days, default 30 days): request logs hold callers' addresses and are not an audit trail.
  count = local.http_api

  name              = "/aws/apigateway/${var.api_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = local.tags
}

resource "aws_apigatewayv2_stage" "this" {
  count = local.http_api

  api_id      = aws_apigatewayv2_api.this[0].id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access[0].arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      caller             = "$context.authorizer.caller"
      userArn            = "$context.identity.userArn"
      requestTime        = "$context.requestTime"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      latency            = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      authorizerError    = "$context.authorizer.error"
    })
  }

  tags = local.tags
}

################################################################################
# API Gateway may invoke the API function (any route of this API) and the
# authorizer (as this API's authorizer only)
################################################################################

resource "aws_lambda_permission" "api" {
  count = local.http_api

  statement_id  = "AllowThisHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["api"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/*/*"
}

resource "aws_lambda_permission" "authorizer" {
  count = local.api_key

  statement_id  = "AllowThisHttpApisAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["authorizer"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/authorizers/${aws_apigatewayv2_authorizer.api_key[0].id}"
}
