"""Terraform and CloudFormation declare the same stack. For one IngestionStackSpec (three subscribers, one filtered,
KMS off, the API's tables and completion topic with its callback queue, its three functions and HTTP API), the Terraform plan of infra/aws (`terraform plan -out` + `terraform show -json`, provider pointed at moto,
providers from the local mirror) and the CloudFormation template resolved for `parameters_for(spec)` are reduced to
the same facts — kind → instance → settings — and compared. What Terraform cannot know before apply (ARNs of
resources not yet created) is a wildcard, and the test names each one, so the blind spots are explicit."""
from __future__ import annotations

import json
import logging
import re
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from idp_kit.cloudformation import parameters_for, render_template, resolve_template
from idp_kit.infra_spec import (NOTIFICATION_EVENTS, IngestionStackSpec, aws_module_dir, callback_queue_name,
                                databricks_job_completion_policy, databricks_job_policy, to_tfvars)
from idp_kit.moto_fidelity import start_moto, stop_moto
from idp_kit.terraform import find_provider_mirror, find_terraform, local_terraform, tf_init, write_local_root

pytestmark = pytest.mark.slow

REGION = "us-east-1"
INVOICES = {"Records": {"s3": {"object": {"key": [{"prefix": "incoming/invoices/"}]}}}}
SPEC = IngestionStackSpec(sqs_subscribers={"idp-kit-ingest": {}, "idp-kit-audit": {"raw_message_delivery": True},
                                           "idp-kit-invoices": {"filter_policy": INVOICES, "max_receive_count": 3}},
                          databricks_external_id="123456789012", api_signing_secret="s" * 32,
                          lambda_zip_base64sha256="A" * 43 + "=")  # with the hash, a plan needs no zip on disk
Facts = dict[str, dict[str, Any]]  # kind -> instance name -> settings


class Unknown:
    "A value Terraform's plan leaves for apply: it matches anything, and the comparison records where it was."
    def __repr__(self) -> str: return "<known after apply>"

UNKNOWN = Unknown()


# ---------------------------------------------------------------- normal forms shared by both sides


def scalar(v: Any) -> Any:
    "Numbers and booleans as CloudFormation passes them (text), so `300` == `'300'` and `True` == `'true'`."
    if isinstance(v, bool): return str(v).lower()
    if isinstance(v, (int, float)): return str(int(v)) if float(v).is_integer() else str(v)
    return v


def as_list(v: Any) -> list:
    return [] if v is None else list(v) if isinstance(v, (list, tuple)) else [v]


def ordered(values: Any) -> list:
    "A list in a stable order (unknowns last), for fields whose order means nothing (IAM actions, resources, values)."
    return sorted(as_list(values), key=lambda x: (x is UNKNOWN, json.dumps(x, sort_keys=True, default=repr)))


def statement(sid: Any, effect: Any, actions: Any, resources: Any, principal: Any, conditions: dict) -> dict:
    "One IAM statement in the normal form both sides are compared in."
    condition = {op: {k: ordered(v) for k, v in kv.items()} for op, kv in conditions.items()}
    return {"Sid": sid, "Effect": effect, "Action": ordered(actions), "Resource": ordered(resources),
            "Principal": principal, "Condition": condition}


def iam_principal(p: Any) -> Any:
    "`*` (and `{AWS: *}`, its equivalent) as `*`; otherwise type -> sorted identifiers."
    if p is None or p == "*" or p == {"AWS": "*"}: return p and "*"
    return {k: ordered(v) for k, v in p.items()}


def iam_document(doc: Any) -> list[dict]:
    "An IAM policy document (JSON text or parsed) as normalised statements."
    doc = json.loads(doc) if isinstance(doc, str) else doc
    return [statement(s.get("Sid"), s["Effect"], s.get("Action"), s.get("Resource"), iam_principal(s.get("Principal")),
                      s.get("Condition", {})) for s in as_list(doc["Statement"])]


def tf_policy_document(after: dict) -> list[dict]:
    "An `aws_iam_policy_document` data source's statements (as planned) as normalised statements."
    out = []
    for s in after["statement"]:
        principals = {p["type"]: p["identifiers"] for p in s.get("principals") or []}
        principal = "*" if principals == {"*": ["*"]} else {k: ordered(v) for k, v in principals.items()} or None
        conditions: dict = {}
        for c in s.get("condition") or []: conditions.setdefault(c["test"], {})[c["variable"]] = c["values"]
        out.append(statement(s.get("sid") or None, s.get("effect") or "Allow", s.get("actions"), s.get("resources"),
                             principal, conditions))
    return out


def same(tf: Any, cfn: Any, path: str, wildcards: list[str]) -> list[str]:
    "Where `tf` and `cfn` differ (paths); an unknown Terraform value matches anything and is recorded in `wildcards`."
    if tf is UNKNOWN:
        wildcards.append(path)
        return []
    if isinstance(tf, dict) and isinstance(cfn, dict):
        return [d for k in sorted(set(tf) | set(cfn)) for d in same(tf.get(k), cfn.get(k), f"{path}.{k}", wildcards)]
    if isinstance(tf, list) and isinstance(cfn, list) and len(tf) == len(cfn):
        return [d for i, (a, b) in enumerate(zip(tf, cfn)) for d in same(a, b, f"{path}[{i}]", wildcards)]
    return [] if scalar(tf) == scalar(cfn) else [f"{path}: terraform {tf!r} != cloudformation {cfn!r}"]


# ---------------------------------------------------------------- Terraform's plan as facts


def with_unknowns(after: Any, unknown: Any) -> Any:
    "The planned value with each leaf Terraform marks `known after apply` replaced by UNKNOWN."
    if unknown is True: return UNKNOWN
    if isinstance(after, dict) or isinstance(unknown, dict):
        after, unknown = after or {}, unknown if isinstance(unknown, dict) else {}
        return {k: with_unknowns(after.get(k), unknown.get(k)) for k in after.keys() | unknown.keys()}
    if isinstance(after, list):
        unknown = unknown if isinstance(unknown, list) else []
        return [with_unknowns(v, unknown[i] if i < len(unknown) else None) for i, v in enumerate(after)]
    return after


def planned(plan: dict) -> dict[str, dict]:
    "Address inside the module (`aws_sqs_queue.this[\"a\"]`) -> planned values, unknowns marked."
    return {r["address"].split("module.ingestion.", 1)[-1]:
            with_unknowns(r["change"]["after"], r["change"]["after_unknown"])
            for r in plan["resource_changes"] if "delete" not in r["change"]["actions"]}


def instances(res: dict[str, dict], prefix: str) -> Iterator[tuple[str, dict]]:
    "(for_each key or count index, values) of every instance of resource `prefix`."
    for address, values in res.items():
        if m := re.fullmatch(re.escape(prefix) + r'(?:\["(.*)"\]|\[(\d+)\])?', address):
            yield m.group(1) or m.group(2) or "", values


def first(rows: list | None, key: str) -> Any:
    "`rows[0][key]` for an optional nested block, None when the block is absent."
    return (rows or [{}])[0].get(key)


def tf_bucket(one: Callable[[str], dict]) -> Facts:
    bucket = one("aws_s3_bucket.this")["bucket"]
    rule = one("aws_s3_bucket_server_side_encryption_configuration.this")["rule"][0]
    by_default = rule["apply_server_side_encryption_by_default"][0]
    blocks = one("aws_s3_bucket_public_access_block.this")
    versioning = one("aws_s3_bucket_versioning.this")["versioning_configuration"][0]
    lifecycle = {r["id"]: {"status": r["status"],
                           "abort_days": first(r["abort_incomplete_multipart_upload"], "days_after_initiation"),
                           "noncurrent_days": first(r["noncurrent_version_expiration"], "noncurrent_days")}
                 for r in one("aws_s3_bucket_lifecycle_configuration.this")["rule"]}
    notification = [{"events": ordered(t["events"]), "prefix": t["filter_prefix"], "suffix": t["filter_suffix"],
                     "topic": t["topic_arn"]} for t in one("aws_s3_bucket_notification.this")["topic"]]
    return {
        "bucket": {bucket: {"tags": one("aws_s3_bucket.this")["tags"]}},
        "versioning": {bucket: {"status": versioning["status"]}},
        "encryption": {bucket: {"algorithm": by_default["sse_algorithm"], "bucket_key": rule["bucket_key_enabled"],
                                "kms_key": by_default["kms_master_key_id"] or None}},
        "public_access_block": {bucket: {k: v for k, v in blocks.items()
                                         if k.startswith(("block_", "ignore_", "restrict_"))}},
        "bucket_policy": {bucket: tf_policy_document(one("data.aws_iam_policy_document.bucket"))},
        "lifecycle": {bucket: lifecycle},
        "notification": {bucket: ordered(notification)},
    }


def tf_delivery(r: dict[str, dict], one: Callable[[str], dict]) -> Facts:
    topics = [t for kind in ("this", "completion") for _, t in instances(r, f"aws_sns_topic.{kind}")]
    out: Facts = {"topic": {t["name"]: {"kms": t.get("kms_master_key_id"), "tags": t["tags"]} for t in topics},
                  "topic_policy": {one("aws_sns_topic.this")["name"]: tf_policy_document(one("data.aws_iam_policy_document.topic"))},
                  "queue": {}, "dlq": {}, "redrive": {}, "redrive_allow": {}, "queue_policy": {}, "subscription": {}}
    callbacks = callback_queue_name(SPEC)  # the for_each key of the callback queue's count-indexed resources
    queues = [q for kind in ("this", "callback") for _, q in instances(r, f"aws_sqs_queue.{kind}")]
    dlqs = [q for kind in ("dlq", "callback_dlq") for _, q in instances(r, f"aws_sqs_queue.{kind}")]
    for q in queues:
        out["queue"][q["name"]] = {"visibility": q["visibility_timeout_seconds"],
                                   "retention": q["message_retention_seconds"], "max_size": q["max_message_size"],
                                   "sse": q["sqs_managed_sse_enabled"], "tags": q["tags"]}
        out["redrive"][q["name"]] = UNKNOWN if q["redrive_policy"] is UNKNOWN else json.loads(q["redrive_policy"])
    for q in dlqs:
        out["dlq"][q["name"]] = {"retention": q["message_retention_seconds"], "max_size": q["max_message_size"],
                                 "sse": q["sqs_managed_sse_enabled"], "tags": q["tags"]}
        allow = json.loads(q["redrive_allow_policy"])
        out["redrive_allow"][q["name"]] = {**allow, "sourceQueueArns": ordered(allow["sourceQueueArns"])}
    for key, d in instances(r, "data.aws_iam_policy_document.queue"): out["queue_policy"][key] = tf_policy_document(d)
    for _, d in instances(r, "data.aws_iam_policy_document.callback_queue"): out["queue_policy"][callbacks] = tf_policy_document(d)
    subscriptions = [*instances(r, "aws_sns_topic_subscription.this"),
                     *((callbacks, s) for _, s in instances(r, "aws_sns_topic_subscription.callback"))]
    for key, s in subscriptions:
        policy = s.get("filter_policy")
        out["subscription"][key] = {"protocol": s["protocol"], "raw": s["raw_message_delivery"],
                                    "topic": s["topic_arn"], "filter_policy_scope": s.get("filter_policy_scope"),
                                    "filter_policy": json.loads(policy) if isinstance(policy, str) else policy}
    return out


def tf_alarm(a: dict) -> dict:
    return {"namespace": a["namespace"], "metric": a["metric_name"], "dimensions": a["dimensions"],
            "statistic": a["statistic"], "period": a["period"], "evaluation_periods": a["evaluation_periods"],
            "threshold": a["threshold"], "comparison": a["comparison_operator"],
            "treat_missing_data": a["treat_missing_data"], "alarm_actions": ordered(a.get("alarm_actions")),
            "ok_actions": ordered(a.get("ok_actions")), "tags": a["tags"]}


def tf_table(t: dict) -> dict:
    sse = t["server_side_encryption"][0]
    indexes = {i["name"]: {"hash_key": i["hash_key"], "range_key": i["range_key"], "projection": i["projection_type"]}
               for i in t.get("global_secondary_index") or []}
    return {"billing": t["billing_mode"], "hash_key": t["hash_key"],
            "attributes": {a["name"]: a["type"] for a in t["attribute"]}, "indexes": indexes,
            "pitr": t["point_in_time_recovery"][0]["enabled"],
            "ttl_attribute": t["ttl"][0]["attribute_name"], "ttl_enabled": t["ttl"][0]["enabled"],
            "sse": sse["enabled"], "sse_kms_key": sse.get("kms_key_arn"), "tags": t["tags"]}


def tf_rest(r: dict[str, dict], one: Callable[[str], dict]) -> Facts:
    tables = {t["name"]: tf_table(t) for kind in ("this", "api_keys", "idempotency")
              for _, t in instances(r, f"aws_dynamodb_table.{kind}")}
    roles = {role["name"]: {"trust": iam_document(role["assume_role_policy"]), "tags": role["tags"],
                            "max_session": role["max_session_duration"], "description": role["description"]}
             for _, role in instances(r, "aws_iam_role.this")}
    policies = {p["name"]: UNKNOWN if p["policy"] is UNKNOWN else iam_document(p["policy"])
                for kind in ("databricks_job", "databricks_job_kms", "databricks_job_completion", "databricks_self_assume",
                             "api_function", "authorizer_function", "callbacks_function", "lambda_logs", "lambda_bucket_kms",
                             "lambda_table_kms")
                for _, p in instances(r, f"aws_iam_role_policy.{kind}")}
    alarms = {a["alarm_name"]: tf_alarm(a) for kind in ("dlq_depth", "oldest_message", "callback_dlq_depth", "callback_oldest_message")
              for _, a in instances(r, f"aws_cloudwatch_metric_alarm.{kind}")}
    return {"table": tables, "role": roles, "role_policy": policies, "alarm": alarms}


def tf_api(r: dict[str, dict]) -> Facts:
    "The API's compute: functions, their roles and log groups, the HTTP API's parts, permissions, event source."
    only = lambda prefix: [v for _, v in instances(r, prefix)]
    functions = {f["function_name"]: {
        "handler": f["handler"], "runtime": f["runtime"], "architectures": f["architectures"], "memory": f["memory_size"],
        "timeout": f["timeout"], "role": f["role"], "environment": f["environment"][0]["variables"],
        "log_format": f["logging_config"][0]["log_format"], "log_group": f["logging_config"][0]["log_group"],
        "reserved": None if f["reserved_concurrent_executions"] == -1 else f["reserved_concurrent_executions"], "tags": f["tags"]}
        for f in only("aws_lambda_function.this")}
    roles = {x["name"]: {"trust": iam_document(x["assume_role_policy"]), "description": x["description"], "tags": x["tags"]}
             for x in only("aws_iam_role.lambda")}
    groups = {g["name"]: {"retention": g["retention_in_days"], "kms": g.get("kms_key_id"), "tags": g["tags"]}
              for kind in ("lambda", "api_access") for g in only(f"aws_cloudwatch_log_group.{kind}")}
    apis = {a["name"]: {"protocol": a["protocol_type"], "description": a["description"], "tags": a["tags"]}
            for a in only("aws_apigatewayv2_api.this")}
    integrations = {"api": {"type": i["integration_type"], "method": i["integration_method"], "payload": i["payload_format_version"],
                            "timeout": i["timeout_milliseconds"], "uri": i["integration_uri"]}
                    for i in only("aws_apigatewayv2_integration.this")}
    authorizers = {a["name"]: {"type": a["authorizer_type"], "identity": a["identity_sources"], "payload": a["authorizer_payload_format_version"],
                               "simple": a["enable_simple_responses"], "ttl": a["authorizer_result_ttl_in_seconds"],
                               "uri": a["authorizer_uri"]} for a in only("aws_apigatewayv2_authorizer.api_key")}
    routes = {x["route_key"]: {"auth": x["authorization_type"], "authorizer": x.get("authorizer_id"), "target": x["target"]}
              for kind in ("proxy", "openapi") for x in only(f"aws_apigatewayv2_route.{kind}")}
    stages = {x["name"]: {"auto_deploy": x["auto_deploy"], "burst": x["default_route_settings"][0]["throttling_burst_limit"],
                          "rate": x["default_route_settings"][0]["throttling_rate_limit"],
                          "log_format": json.loads(x["access_log_settings"][0]["format"]),
                          "log_destination": x["access_log_settings"][0]["destination_arn"], "tags": x["tags"]}
              for x in only("aws_apigatewayv2_stage.this")}
    permissions = {x["function_name"]: {"action": x["action"], "principal": x["principal"], "source": x["source_arn"]}
                   for kind in ("api", "authorizer") for x in only(f"aws_lambda_permission.{kind}")}
    mappings = {"callbacks": {"source": m["event_source_arn"], "function": m["function_name"], "batch": m["batch_size"],
                              "responses": m["function_response_types"]} for m in only("aws_lambda_event_source_mapping.callbacks")}
    return {"lambda_function": functions, "lambda_role": roles, "log_group": groups, "http_api": apis,
            "integration": integrations, "authorizer": authorizers, "route": routes, "stage": stages, "permission": permissions,
            "event_source": mappings}


def tf_facts(plan: dict) -> Facts:
    "The Terraform plan as kind -> instance -> settings."
    r = planned(plan)
    one = lambda prefix: next(v for _, v in instances(r, prefix))
    return tf_bucket(one) | tf_delivery(r, one) | tf_rest(r, one) | tf_api(r)


# ---------------------------------------------------------------- the resolved CloudFormation template as facts


def realistic_attr(template: dict, parameters: dict[str, str], account: str) -> Callable[[str, str], str]:
    "Resource attributes as AWS would make them (from the names the template gives), for comparing with Terraform's."
    names = resolve_template(template, parameters, region=REGION, account=account).resources
    arn = lambda service, rest: f"arn:aws:{service}:{REGION}:{account}:{rest}"
    def attr(logical_id: str, attribute: str) -> str:
        kind, p = names[logical_id]["Type"], names[logical_id]["Properties"]
        values = {
            "AWS::SQS::Queue": lambda: {"Ref": f"https://sqs.{REGION}.amazonaws.com/{account}/{p['QueueName']}",
                                        "Arn": arn("sqs", p["QueueName"]), "QueueName": p["QueueName"]},
            "AWS::SNS::Topic": lambda: {"Ref": arn("sns", p["TopicName"]), "TopicName": p["TopicName"]},
            "AWS::S3::Bucket": lambda: {"Ref": p["BucketName"], "Arn": f"arn:aws:s3:::{p['BucketName']}"},
            "AWS::DynamoDB::Table": lambda: {"Ref": p["TableName"], "Arn": arn("dynamodb", f"table/{p['TableName']}")},
            "AWS::IAM::Role": lambda: {"Ref": p["RoleName"], "Arn": f"arn:aws:iam::{account}:role/{p['RoleName']}"},
            "AWS::SNS::Subscription": lambda: {"Ref": arn("sns", f"subscription/{logical_id}")},
            "AWS::Lambda::Function": lambda: {"Ref": p["FunctionName"], "Arn": arn("lambda", f"function:{p['FunctionName']}")},
            "AWS::Logs::LogGroup": lambda: {"Ref": p["LogGroupName"], "Arn": arn("logs", f"log-group:{p['LogGroupName']}:*")},
            "AWS::ApiGatewayV2::Api": lambda: {"Ref": "api-id", "ApiEndpoint": f"https://api-id.execute-api.{REGION}.amazonaws.com"},
            "AWS::ApiGatewayV2::Authorizer": lambda: {"Ref": "authorizer-id"},
            "AWS::ApiGatewayV2::Integration": lambda: {"Ref": "integration-id"}}
        return values[kind]()[attribute]
    return attr


def tags(p: dict) -> dict[str, str]: return {t["Key"]: t["Value"] for t in p.get("Tags", [])}


def cfn_bucket(of: Callable[[str], list]) -> Facts:
    (_, b), = of("AWS::S3::Bucket")
    bucket, rule = b["BucketName"], b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    by_default = rule["ServerSideEncryptionByDefault"]
    rules = lambda c: {r["Name"]: r["Value"] for r in c.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
    snake = lambda k: re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower()
    lifecycle = {r["Id"]: {"status": r["Status"],
                           "abort_days": r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
                           "noncurrent_days": r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")}
                 for r in b["LifecycleConfiguration"]["Rules"]}
    # CloudFormation takes one Event per topic configuration; Terraform one entry per filter with every event: the
    # configurations of one filter (prefix, suffix, topic) are one fact, holding their events
    by_filter: dict[tuple, list[str]] = {}
    for c in b["NotificationConfiguration"]["TopicConfigurations"]:
        by_filter.setdefault((rules(c).get("prefix"), rules(c).get("suffix"), c["Topic"]), []).append(c["Event"])
    notification = [{"events": ordered(events), "prefix": prefix, "suffix": suffix, "topic": topic}
                    for (prefix, suffix, topic), events in by_filter.items()]
    return {
        "bucket": {bucket: {"tags": tags(b)}},
        "versioning": {bucket: {"status": b["VersioningConfiguration"]["Status"]}},
        "encryption": {bucket: {"algorithm": by_default["SSEAlgorithm"], "bucket_key": rule.get("BucketKeyEnabled"),
                                "kms_key": by_default.get("KMSMasterKeyID")}},
        "public_access_block": {bucket: {snake(k): v for k, v in b["PublicAccessBlockConfiguration"].items()}},
        "bucket_policy": {p["Bucket"]: iam_document(p["PolicyDocument"]) for _, p in of("AWS::S3::BucketPolicy")},
        "lifecycle": {bucket: lifecycle},
        "notification": {bucket: ordered(notification)},
    }


def cfn_delivery(of: Callable[[str], list]) -> Facts:
    out: Facts = {"topic": {t["TopicName"]: {"kms": t.get("KmsMasterKeyId"), "tags": tags(t)} for _, t in of("AWS::SNS::Topic")},
                  "topic_policy": {arn.rsplit(":", 1)[-1]: iam_document(p["PolicyDocument"])
                                   for _, p in of("AWS::SNS::TopicPolicy") for arn in p["Topics"]},
                  "queue": {}, "dlq": {}, "redrive": {}, "redrive_allow": {}}
    for logical_id, q in of("AWS::SQS::Queue"):
        name = q["QueueName"]
        common = {"max_size": q["MaximumMessageSize"], "sse": q["SqsManagedSseEnabled"], "tags": tags(q)}
        if "Dlq" in logical_id:  # Dlq<n>, CallbackDlq
            out["dlq"][name] = {"retention": q["MessageRetentionPeriod"], **common}
            allow = q["RedriveAllowPolicy"]
            out["redrive_allow"][name] = {**allow, "sourceQueueArns": ordered(allow["sourceQueueArns"])}
        else:
            out["queue"][name] = {"visibility": q["VisibilityTimeout"], "retention": q["MessageRetentionPeriod"],
                                  **common}
            out["redrive"][name] = q["RedrivePolicy"]
    out["queue_policy"] = {url.rsplit("/", 1)[-1]: iam_document(p["PolicyDocument"])
                           for _, p in of("AWS::SQS::QueuePolicy") for url in p["Queues"]}
    out["subscription"] = {s["Endpoint"].rsplit(":", 1)[-1]: {
        "protocol": s["Protocol"], "raw": s["RawMessageDelivery"], "topic": s["TopicArn"],
        "filter_policy": json.loads(s["FilterPolicy"]) if isinstance(s.get("FilterPolicy"), str) else s.get("FilterPolicy"),
        "filter_policy_scope": s.get("FilterPolicyScope")} for _, s in of("AWS::SNS::Subscription")}
    return out


def cfn_alarm(a: dict) -> dict:
    return {"namespace": a["Namespace"], "metric": a["MetricName"],
            "dimensions": {x["Name"]: x["Value"] for x in a["Dimensions"]}, "statistic": a["Statistic"],
            "period": a["Period"], "evaluation_periods": a["EvaluationPeriods"], "threshold": a["Threshold"],
            "comparison": a["ComparisonOperator"], "treat_missing_data": a["TreatMissingData"],
            "alarm_actions": ordered(a.get("AlarmActions")), "ok_actions": ordered(a.get("OKActions")), "tags": tags(a)}


def cfn_table(d: dict) -> dict:
    ttl, sse = d["TimeToLiveSpecification"], d["SSESpecification"]
    key = lambda schema, kind: next((k["AttributeName"] for k in schema if k["KeyType"] == kind), None)
    indexes = {i["IndexName"]: {"hash_key": key(i["KeySchema"], "HASH"), "range_key": key(i["KeySchema"], "RANGE"),
                                "projection": i["Projection"]["ProjectionType"]} for i in d.get("GlobalSecondaryIndexes", [])}
    return {"billing": d["BillingMode"], "hash_key": key(d["KeySchema"], "HASH"),
            "attributes": {a["AttributeName"]: a["AttributeType"] for a in d["AttributeDefinitions"]}, "indexes": indexes,
            # no PointInTimeRecoverySpecification: recovery is off (the idempotency table's)
            "pitr": d.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled", False),
            "ttl_attribute": ttl["AttributeName"], "ttl_enabled": ttl["Enabled"], "sse": sse["SSEEnabled"],
            "sse_kms_key": sse.get("KMSMasterKeyId"), "tags": tags(d)}


def cfn_rest(of: Callable[[str], list]) -> Facts:
    roles = {r["RoleName"]: {"trust": iam_document(r["AssumeRolePolicyDocument"]), "tags": tags(r),
                             "max_session": r["MaxSessionDuration"], "description": r["Description"]}
             for logical, r in of("AWS::IAM::Role") if logical == "DatabricksRole"}
    return {"table": {d["TableName"]: cfn_table(d) for _, d in of("AWS::DynamoDB::Table")}, "role": roles,
            "alarm": {a["AlarmName"]: cfn_alarm(a) for _, a in of("AWS::CloudWatch::Alarm")},
            "role_policy": {p["PolicyName"]: iam_document(p["PolicyDocument"]) for _, p in of("AWS::IAM::Policy")}}


def cfn_api(of: Callable[[str], list]) -> Facts:
    "The API's compute, as tf_api reads it from the plan."
    functions = {f["FunctionName"]: {
        "handler": f["Handler"], "runtime": f["Runtime"], "architectures": f["Architectures"], "memory": f["MemorySize"],
        "timeout": f["Timeout"], "role": f["Role"], "environment": f["Environment"]["Variables"],
        "log_format": f["LoggingConfig"]["LogFormat"], "log_group": f["LoggingConfig"]["LogGroup"],
        "reserved": f.get("ReservedConcurrentExecutions"), "tags": tags(f)} for _, f in of("AWS::Lambda::Function")}
    roles = {x["RoleName"]: {"trust": iam_document(x["AssumeRolePolicyDocument"]), "description": x["Description"], "tags": tags(x)}
             for logical, x in of("AWS::IAM::Role") if logical != "DatabricksRole"}
    groups = {g["LogGroupName"]: {"retention": g["RetentionInDays"], "kms": g.get("KmsKeyId"), "tags": tags(g)}
              for _, g in of("AWS::Logs::LogGroup")}
    apis = {a["Name"]: {"protocol": a["ProtocolType"], "description": a["Description"], "tags": a["Tags"]}
            for _, a in of("AWS::ApiGatewayV2::Api")}
    integrations = {"api": {"type": i["IntegrationType"], "method": i["IntegrationMethod"], "payload": i["PayloadFormatVersion"],
                            "timeout": i["TimeoutInMillis"], "uri": i["IntegrationUri"]} for _, i in of("AWS::ApiGatewayV2::Integration")}
    authorizers = {a["Name"]: {"type": a["AuthorizerType"], "identity": a["IdentitySource"], "payload": a["AuthorizerPayloadFormatVersion"],
                               "simple": a["EnableSimpleResponses"], "ttl": a["AuthorizerResultTtlInSeconds"],
                               "uri": a["AuthorizerUri"]} for _, a in of("AWS::ApiGatewayV2::Authorizer")}
    routes = {x["RouteKey"]: {"auth": x["AuthorizationType"], "authorizer": x.get("AuthorizerId"), "target": x["Target"]}
              for _, x in of("AWS::ApiGatewayV2::Route")}
    stages = {x["StageName"]: {"auto_deploy": x["AutoDeploy"], "burst": x["DefaultRouteSettings"]["ThrottlingBurstLimit"],
                               "rate": x["DefaultRouteSettings"]["ThrottlingRateLimit"],
                               "log_format": json.loads(x["AccessLogSettings"]["Format"]),
                               "log_destination": x["AccessLogSettings"]["DestinationArn"], "tags": x["Tags"]}
              for _, x in of("AWS::ApiGatewayV2::Stage")}
    permissions = {x["FunctionName"]: {"action": x["Action"], "principal": x["Principal"], "source": x["SourceArn"]}
                   for _, x in of("AWS::Lambda::Permission")}
    mappings = {"callbacks": {"source": m["EventSourceArn"], "function": m["FunctionName"], "batch": m["BatchSize"],
                              "responses": m["FunctionResponseTypes"]} for _, m in of("AWS::Lambda::EventSourceMapping")}
    return {"lambda_function": functions, "lambda_role": roles, "log_group": groups, "http_api": apis,
            "integration": integrations, "authorizer": authorizers, "route": routes, "stage": stages, "permission": permissions,
            "event_source": mappings}


def cfn_facts(template: dict, parameters: dict[str, str], account: str) -> Facts:
    "The template resolved for `parameters` as kind -> instance -> settings."
    attr = realistic_attr(template, parameters, account)
    res = resolve_template(template, parameters, region=REGION, account=account, attr=attr).resources
    of = lambda kind: [(k, v["Properties"]) for k, v in res.items() if v["Type"] == kind]
    return cfn_bucket(of) | cfn_delivery(of) | cfn_rest(of) | cfn_api(of)


# ---------------------------------------------------------------- the plan


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    "A moto server for the provider's plan-time reads (caller identity, region, partition); planning creates nothing."
    logging.getLogger("moto").setLevel(logging.ERROR)
    server, endpoint = start_moto()
    try: yield endpoint
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()
        stop_moto(server)


@pytest.fixture(scope="module")
def plan(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    "`terraform show -json` of the plan of infra/aws for SPEC; read-only, so the tests below share it."
    if find_terraform() is None:
        pytest.fail("terraform is not on the PATH: install Terraform >= 1.9 (the parity test needs it)")
    if find_provider_mirror() is None:
        pytest.fail("no Terraform provider mirror found: set IDP_TERRAFORM_PROVIDER_MIRROR to a directory made by "
                    "`terraform providers mirror`")
    root = tmp_path_factory.mktemp("parity") / "root"
    var_file = write_local_root(SPEC, root, moto_endpoint, REGION)
    tf = local_terraform(root)
    tf_init(tf)
    tf.run("plan", "-out=parity.tfplan", "-input=false", "-no-color", "-refresh=false", f"-var-file={var_file}")
    return json.loads(tf.run("show", "-json", "-no-color", "parity.tfplan"))


def account_of(plan: dict) -> str:
    "The account the provider saw (moto's), from the plan's data source reads."
    resources = plan["prior_state"]["values"]["root_module"]["child_modules"][0]["resources"]
    return next(r["values"]["account_id"] for r in resources if r["type"] == "aws_caller_identity")


# What Terraform cannot know before apply, by design: ARNs of resources it has yet to create, and computed values.
EXPECTED_WILDCARDS = {
    "bucket_policy.Resource",  # aws_s3_bucket.this.arn
    "topic_policy.Resource",  # aws_sns_topic.this.arn
    "queue_policy.Condition.aws:SourceArn",  # the topic's ARN
    "notification.topic", "subscription.topic",  # the topic's ARN
    "redrive",  # the whole redrive_policy: it names the DLQ's ARN (so maxReceiveCount is not compared here)
    "role_policy.idp-kit-databricks-job",  # rendered from the queues', bucket's and table's ARNs; compared on its own below
    "role_policy.idp-kit-databricks-job-completion",  # names the completion topic's ARN
    "table.sse_kms_key",  # computed: the ARN of the AWS managed key when status_table_kms_key_arn is null
    "subscription.filter_policy_scope",  # computed for subscriptions without a filter policy
    "role_policy.idp-kit-api-function",  # names the tables', the ingest queue's and the bucket's ARNs
    "role_policy.idp-kit-authorizer-function", "role_policy.idp-kit-callbacks-function",  # the tables', the callback queue's
    "lambda_function.role",  # the role's ARN
    # the whole environment map: it holds the HTTP API's endpoint (and the bucket's name, the queue's URL), so Terraform
    # knows none of it before apply; tests/test_terraform_deploy.py reads every function's environment back on moto
    "lambda_function.environment",
    "authorizer.uri", "integration.uri",  # the functions' invoke ARNs
    "route.target", "route.authorizer",  # the integration's and the authorizer's ids
    "stage.log_destination", "permission.source", "event_source.source", "event_source.function",  # ARNs made on apply
}


def wildcard_fields(paths: list[str]) -> set[str]:
    "`queue_policy.idp-kit-ingest[0].Condition.ArnEquals.aws:SourceArn[0]` -> `queue_policy.Condition.aws:SourceArn`."
    out = set()
    for path in paths:
        kind, _, rest = path.partition(".")
        if kind == "redrive": out.add(kind)
        elif kind == "route": out.add(f"route.{rest.rsplit('.', 1)[-1]}")  # route keys hold dots (`GET /v1/openapi.json`)
        elif kind == "role_policy": out.add(f"{kind}.{rest.split('.', 1)[0]}")
        else:
            operators = ("ArnEquals", "StringEquals", "Bool")
            out.add(".".join([kind, *(f for f in re.sub(r"\[\d+\]", "", rest).split(".")[1:] if f not in operators)]))
    return out


# Every resource type each side declares, all read into facts above: a type added on one side fails the test until
# it is mapped (and declared on the other side)
TF_TYPES = {"aws_s3_bucket", "aws_s3_bucket_versioning", "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_public_access_block", "aws_s3_bucket_policy", "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_notification", "aws_sns_topic", "aws_sns_topic_policy", "aws_sqs_queue",
            "aws_sns_topic_subscription", "aws_dynamodb_table", "aws_iam_role", "aws_iam_role_policy",
            "aws_cloudwatch_metric_alarm", "aws_lambda_function", "aws_cloudwatch_log_group", "aws_apigatewayv2_api",
            "aws_apigatewayv2_integration", "aws_apigatewayv2_authorizer", "aws_apigatewayv2_route", "aws_apigatewayv2_stage",
            "aws_lambda_permission", "aws_lambda_event_source_mapping"}
CFN_TYPES = {"AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SQS::Queue",
             "AWS::SQS::QueuePolicy", "AWS::SNS::Subscription", "AWS::DynamoDB::Table", "AWS::IAM::Role",
             "AWS::IAM::Policy", "AWS::CloudWatch::Alarm", "AWS::Lambda::Function", "AWS::Logs::LogGroup",
             "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer",
             "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Stage", "AWS::Lambda::Permission",
             "AWS::Lambda::EventSourceMapping"}


def test_terraform_and_cloudformation_declare_the_same_resources_and_settings(plan):
    # GIVEN the Terraform plan and the CloudFormation template, both for SPEC
    tf, cfn = tf_facts(plan), cfn_facts(render_template(), parameters_for(SPEC), account_of(plan))
    assert {r["type"] for r in plan["resource_changes"] if r["mode"] == "managed"} == TF_TYPES
    resolved = resolve_template(render_template(), parameters_for(SPEC)).resources
    assert {r["Type"] for r in resolved.values()} == CFN_TYPES
    # THEN they declare the same kinds of resource, and the same instances of each
    assert {k: sorted(v) for k, v in tf.items()} == {k: sorted(v) for k, v in cfn.items()}
    # AND the same settings for each, except what Terraform only knows after apply
    wildcards: list[str] = []
    differences = [d for kind in tf for key in tf[kind]
                   for d in same(tf[kind][key], cfn[kind][key], f"{kind}.{key}", wildcards)]
    assert differences == []
    assert wildcard_fields(wildcards) == EXPECTED_WILDCARDS
    # AND the bucket notifies the same events on both sides: the kit's NOTIFICATION_EVENTS, created and removed
    assert [n["events"] for n in tf["notification"][SPEC.bucket_name]] == [sorted(NOTIFICATION_EVENTS)]


def test_the_job_policy_comes_from_the_one_template_on_both_sides(plan):
    # GIVEN the CloudFormation job policy resolved for SPEC, with the queue ARNs AWS would give
    account = account_of(plan)
    cfn = cfn_facts(render_template(), parameters_for(SPEC), account)["role_policy"]["idp-kit-databricks-job"]
    arns = [f"arn:aws:sqs:{REGION}:{account}:{name}" for name in SPEC.sqs_subscribers]
    # THEN it is databricks_job_policy(spec): the policies/databricks_job.json.tftpl template rendered in Python
    table = f"arn:aws:dynamodb:{REGION}:{account}:table/{SPEC.status_table_name}"
    assert cfn == iam_document(databricks_job_policy(SPEC, arns, table))
    # AND the completion policy is databricks_job_completion_policy(spec) for the topic's ARN
    completion = cfn_facts(render_template(), parameters_for(SPEC), account)["role_policy"]["idp-kit-databricks-job-completion"]
    topic = f"arn:aws:sns:{REGION}:{account}:{SPEC.completion_topic_name}"
    assert completion == iam_document(databricks_job_completion_policy(SPEC, topic))
    # AND Terraform renders that same file for the same role policy, from the bucket, the prefix, the queues and the table
    config = plan["configuration"]["root_module"]["module_calls"]["ingestion"]["module"]["resources"]
    policy = next(r for r in config if r["address"] == "aws_iam_role_policy.databricks_job")["expressions"]["policy"]
    assert {"var.watched_prefix", "aws_s3_bucket.this", "aws_sqs_queue.this", "aws_dynamodb_table.this"} <= set(policy["references"])
    announce = next(r for r in config if r["address"] == "aws_iam_role_policy.databricks_job_completion")["expressions"]["policy"]
    assert "aws_sns_topic.completion" in announce["references"]
    module = "\n".join(p.read_text() for p in aws_module_dir().glob("*.tf"))
    assert re.search(r'templatefile\("\$\{path\.module\}/policies/databricks_job\.json\.tftpl"', module)
    assert re.search(r'templatefile\("\$\{path\.module\}/policies/databricks_job_completion\.json\.tftpl"', module)


def test_the_plan_is_for_the_spec_the_template_was_resolved_for(plan):
    # GIVEN the variables Terraform planned with; THEN they are to_tfvars(SPEC): both sides start from one description
    assert {k: v["value"] for k, v in plan["variables"].items()} == json.loads(json.dumps(to_tfvars(SPEC)))


# Terraform output -> CloudFormation output (per subscriber slot for the maps Terraform keys by subscriber name)
SLOT_OUTPUTS = {"queues": "Name", "queue_urls": "QueueUrl", "queue_arns": "QueueArn", "dlq_urls": "DlqUrl",
                "dlq_arns": "DlqArn"}


def test_both_give_the_kit_the_same_settings_and_outputs(plan):
    # GIVEN Terraform's planned idp_kit_settings and the template's IdpKitSettings output, both for SPEC
    planned_settings = plan["output_changes"]["idp_kit_settings"]
    tf = with_unknowns(planned_settings["after"], planned_settings["after_unknown"])
    template, parameters, account = render_template(), parameters_for(SPEC), account_of(plan)
    attr = realistic_attr(template, parameters, account)
    outputs = resolve_template(template, parameters, region=REGION, account=account, attr=attr).outputs
    cfn = json.loads(outputs["IdpKitSettings"])
    # THEN they hold the same settings. The subscriber list is compared as a set: Terraform lists map keys sorted,
    # the template in the spec's order (Settings.subscriber_queues keeps either; neither order means anything)
    for settings in (tf, cfn): settings["IDP_SUBSCRIBER_QUEUES"] = sorted(json.loads(settings["IDP_SUBSCRIBER_QUEUES"]))
    wildcards: list[str] = []
    assert same(tf, cfn, "settings", wildcards) == []
    assert sorted(wildcards) == ["settings.IDP_API_URL", "settings.IDP_BUCKET", "settings.IDP_INGEST_QUEUE_URL"]  # known after apply
    # AND every Terraform output has its CloudFormation twin: by name, or per subscriber slot for Terraform's maps
    pascal = lambda name: "".join(word.capitalize() for word in name.split("_"))
    slots = range(1, len(SPEC.sqs_subscribers) + 1)
    twins = {name: [f"Subscriber{n}{SLOT_OUTPUTS[name]}" for n in slots] if name in SLOT_OUTPUTS else [pascal(name)]
             for name in plan["output_changes"]}
    twins["lambda_functions"] = [f"{f}Function{k}" for f in ("Api", "Authorizer", "Callbacks") for k in ("Name", "Arn", "RoleArn", "LogGroup")]
    missing = {name: [o for o in names if o not in outputs] for name, names in twins.items()}
    assert missing == {name: [] for name in twins}
