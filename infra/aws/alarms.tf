################################################################################
# CloudWatch alarms: dead letters arriving, and queues not being drained, for
# every subscriber queue and the completion callback queue.
################################################################################

locals {
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = var.sqs_subscribers

  alarm_name        = "${local.dlq_names[each.key]}-depth"
  alarm_description = "Messages in the dead-letter queue of ${each.key}: events the job failed on ${each.value.max_receive_count} times. Fix the cause, then redrive them."

  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.dlq_names[each.key] }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.dlq_depth_alarm_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = var.sqs_subscribers

  alarm_name        = "${each.key}-oldest-message-age"
  alarm_description = "The oldest message in ${each.key} has waited ${var.oldest_message_alarm_seconds} s or more: is its job running?"

  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.key }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.oldest_message_alarm_seconds
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "callback_dlq_depth" {
  count = length(local.completion)

  alarm_name        = "${local.callback_dlq_name}-depth"
  alarm_description = "Messages in the dead-letter queue of ${local.callback_queue_name}: completion callbacks that failed 5 times. Fix the cause, then redrive them."

  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.callback_dlq_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.dlq_depth_alarm_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "callback_oldest_message" {
  count = length(local.completion)

  alarm_name        = "${local.callback_queue_name}-oldest-message-age"
  alarm_description = "The oldest message in ${local.callback_queue_name} has waited ${var.oldest_message_alarm_seconds} s or more: is its consumer running?"

  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = local.callback_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.oldest_message_alarm_seconds
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = local.tags
}
