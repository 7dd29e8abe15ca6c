"""Settings read from the environment: strict about names, every error naming the IDP_* variable and the
way out, the ingest queue by URL, the audit queue, and one AWS client configuration."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from idp_kit.settings import SQS_MAX_WAIT_S, Settings, aws_client, aws_client_config, env_var, get_settings

QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/{}"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    "No IDP_* (or seed job) variable from the caller's shell leaks into a test."
    import os
    for k in list(os.environ):
        if k.upper().startswith("IDP_") or k.upper() == "INGESTION_QUEUE_URL": monkeypatch.delenv(k)


def messages(e: pytest.ExceptionInfo) -> list[str]:
    return [err["msg"] for err in e.value.errors()]


# Unknown names --------------------------------------------------------------------------------------------

def test_unknown_idp_variable_is_an_error_naming_the_nearest_setting(monkeypatch):
    # GIVEN a misspelt variable
    monkeypatch.setenv("IDP_WAIT_TIME", "0")
    # WHEN settings are read THEN the error names it, the setting it probably meant, and what to do
    with pytest.raises(ValidationError) as e: Settings()
    assert messages(e) == ["IDP_WAIT_TIME is not a setting; did you mean IDP_WAIT_TIME_S?: rename or unset it"]


def test_unknown_variable_matches_case_insensitively_as_pydantic_settings_reads_them(monkeypatch):
    monkeypatch.setenv("idp_bukcet", "x")
    with pytest.raises(ValidationError) as e: Settings()
    assert "did you mean IDP_BUCKET?" in messages(e)[0]


def test_variables_without_the_prefix_are_none_of_our_business(monkeypatch):
    # GIVEN variables that merely contain IDP_ (moto's Cognito settings) or belong to AWS
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY", "HASH")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    # THEN they are ignored
    assert Settings().aws_region == "us-east-1"


def test_misspelt_keyword_is_an_error_naming_the_nearest_setting():
    with pytest.raises(ValidationError) as e: get_settings(wait_time=0)
    assert messages(e) == ["'wait_time' is not a setting; did you mean wait_time_s?: correct the keyword "
                           "(settings are the fields of idp_kit.settings.Settings)"]


# Every error names its variable ----------------------------------------------------------------------------

@pytest.mark.parametrize("var, value, says", [
    ("IDP_BATCH_SIZE", "11", "less than or equal to 10"),
    ("IDP_BATCH_SIZE", "ten", "valid integer"),
    ("IDP_WAIT_TIME_S", "21", "less than or equal to 20"),
    ("IDP_WATCHED_PREFIX", "incoming", "must end with '/'"),
    ("IDP_SUBSCRIBER_QUEUES", "idp-kit-ingest,idp-kit-audit", "is not valid JSON"),
    ("IDP_SUBSCRIBER_QUEUES", "[1]", "valid string"),
    ("IDP_INGEST_QUEUE", "nope", "add it to IDP_SUBSCRIBER_QUEUES"),
    ("IDP_INGEST_QUEUE_URL", "idp-kit-ingest", "not an SQS queue URL"),
    ("IDP_AUDIT_QUEUE", "idp-kit-ingest", "must never drain the ingest queue"),
    ("IDP_DELTA_LOCATION", "s3://idp-kit-landing/incoming/delta", "notification loop"),
    ("IDP_AWS_READ_TIMEOUT_S", "20", "greater than 20"),
    ("IDP_PROVISIONER", "pulumi", "'auto', 'terraform', 'cloudformation' or 'boto3'"),
    ("IDP_MAX_RECEIVE_COUNT", "0", "greater than or equal to 1"),
])
def test_every_invalid_value_is_one_message_naming_the_variable(monkeypatch, var, value, says):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError) as e: Settings()
    [msg] = messages(e)
    assert var in msg and says in msg, msg
    assert "\n" not in msg


def test_a_malformed_list_shows_how_to_write_it(monkeypatch):
    monkeypatch.setenv("IDP_SUBSCRIBER_QUEUES", "idp-kit-ingest")
    with pytest.raises(ValidationError) as e: Settings()
    assert messages(e) == ["IDP_SUBSCRIBER_QUEUES='idp-kit-ingest' is not valid JSON: write it as JSON, "
                           """e.g. IDP_SUBSCRIBER_QUEUES='["idp-kit-ingest", "idp-kit-audit"]'"""]


def test_a_built_in_check_says_how_to_get_back_to_the_default(monkeypatch):
    monkeypatch.setenv("IDP_BATCH_SIZE", "11")
    with pytest.raises(ValidationError) as e: Settings()
    assert messages(e)[0].endswith("set IDP_BATCH_SIZE to a valid value, or unset it for the default 10")


# Values from the environment --------------------------------------------------------------------------------

def test_every_field_round_trips_through_its_variable(monkeypatch, tmp_path):
    # GIVEN settings that differ from the defaults everywhere it is allowed
    s = Settings(bucket="b", subscriber_queues=("in", "aud", "x"), ingest_queue_url=QUEUE_URL.format("in"), audit_queue="aud",
                 wait_time_s=0, terraform_bin="/opt/tf/terraform", terraform_provider_mirror=tmp_path, provisioner="boto3",
                 state_dir=tmp_path / "state", aws_read_timeout_s=30)
    # WHEN every field is exported as its IDP_* variable (lists as JSON) and read back
    for k, v in s.model_dump(mode="json").items():
        if v is not None: monkeypatch.setenv(env_var(k), v if isinstance(v, str) else json.dumps(v))
    # THEN the same settings come back
    assert Settings() == s


def test_null_is_none(monkeypatch):
    monkeypatch.setenv("IDP_AUDIT_QUEUE", "null")
    assert Settings().audit_queue is None


def test_terraform_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("IDP_TERRAFORM_PROVIDER_MIRROR", str(tmp_path))
    monkeypatch.setenv("IDP_TERRAFORM_BIN", "/usr/bin/terraform")
    monkeypatch.setenv("IDP_PROVISIONER", "terraform")
    s = Settings()
    assert (s.terraform_provider_mirror, s.terraform_bin, s.provisioner) == (Path(tmp_path), "/usr/bin/terraform", "terraform")
    assert (Settings.model_fields["terraform_bin"].default, Settings.model_fields["provisioner"].default) == (None, "auto")


# The ingest queue by URL ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("var", ["IDP_INGEST_QUEUE_URL", "INGESTION_QUEUE_URL", "idp_ingest_queue_url"])
def test_the_queue_url_names_the_ingest_queue(monkeypatch, var):
    # GIVEN only a queue URL, under any of its names (the seed job's INGESTION_QUEUE_URL has no prefix)
    monkeypatch.setenv("IDP_SUBSCRIBER_QUEUES", '["prod-ingest", "idp-kit-audit"]')
    monkeypatch.setenv(var, QUEUE_URL.format("prod-ingest"))
    # THEN the ingest queue is the URL's last path segment
    s = Settings()
    assert (s.ingest_queue_url, s.ingest_queue) == (QUEUE_URL.format("prod-ingest"), "prod-ingest")


def test_queue_url_and_queue_name_must_agree(monkeypatch):
    monkeypatch.setenv("IDP_INGEST_QUEUE", "idp-kit-ingest")
    monkeypatch.setenv("INGESTION_QUEUE_URL", QUEUE_URL.format("idp-kit-audit"))
    with pytest.raises(ValidationError) as e: Settings()
    assert messages(e) == ["IDP_INGEST_QUEUE='idp-kit-ingest' but IDP_INGEST_QUEUE_URL (or INGESTION_QUEUE_URL) names queue "
                           "'idp-kit-audit': they must name the same queue; unset one of them"]


def test_queue_url_and_queue_name_may_both_be_set_when_they_agree(monkeypatch):
    monkeypatch.setenv("IDP_INGEST_QUEUE", "idp-kit-ingest")
    monkeypatch.setenv("IDP_INGEST_QUEUE_URL", QUEUE_URL.format("idp-kit-ingest"))
    assert Settings().ingest_queue == "idp-kit-ingest"


def test_the_url_must_name_a_subscribed_queue(monkeypatch):
    monkeypatch.setenv("INGESTION_QUEUE_URL", QUEUE_URL.format("elsewhere"))
    with pytest.raises(ValidationError) as e: Settings()
    assert "ingest_queue 'elsewhere' (IDP_INGEST_QUEUE_URL) is not one of subscriber_queues" in messages(e)[0]


def test_both_url_variables_set_differently_is_an_error(monkeypatch):
    monkeypatch.setenv("IDP_INGEST_QUEUE_URL", QUEUE_URL.format("idp-kit-ingest"))
    monkeypatch.setenv("INGESTION_QUEUE_URL", QUEUE_URL.format("idp-kit-audit"))
    with pytest.raises(ValidationError) as e: Settings()
    assert "IDP_INGEST_QUEUE_URL and INGESTION_QUEUE_URL are both set, to different values" in messages(e)[0]


# The audit queue --------------------------------------------------------------------------------------------------

def test_audit_queue_defaults_to_the_audit_subscriber_and_never_to_the_ingest_queue():
    s = Settings()
    assert (s.audit_queue, s.ingest_queue) == ("idp-kit-audit", "idp-kit-ingest")


def test_no_audit_queue_when_the_default_is_not_subscribed(monkeypatch):
    monkeypatch.setenv("IDP_SUBSCRIBER_QUEUES", '["idp-kit-ingest"]')
    assert Settings().audit_queue is None


def test_an_explicit_audit_queue_must_be_subscribed(monkeypatch):
    monkeypatch.setenv("IDP_SUBSCRIBER_QUEUES", '["idp-kit-ingest"]')
    monkeypatch.setenv("IDP_AUDIT_QUEUE", "idp-kit-audit")
    with pytest.raises(ValidationError) as e: Settings()
    assert "or set IDP_AUDIT_QUEUE=null for no audit queue" in messages(e)[0]


# replace -------------------------------------------------------------------------------------------------------------

def test_replace_validates_where_model_copy_does_not():
    s = Settings()
    assert s.model_copy(update={"batch_size": 11}).batch_size == 11  # what replace exists to prevent
    with pytest.raises(ValidationError, match="IDP_BATCH_SIZE=11"): s.replace(batch_size=11)
    with pytest.raises(ValidationError, match="did you mean wait_time_s"): s.replace(wait_time=1)


def test_replace_keeps_values_and_does_not_read_the_environment_again(monkeypatch):
    s = Settings(bucket="mine", wait_time_s=1)
    monkeypatch.setenv("IDP_BUCKET", "from-env")
    monkeypatch.setenv("IDP_BOGUS", "1")  # would fail a fresh Settings(); the copy is not a fresh read
    r = s.replace(wait_time_s=0)
    assert (r.bucket, r.wait_time_s, r.batch_size) == ("mine", 0, s.batch_size)


def test_replace_derives_again_what_was_derived():
    s = Settings(ingest_queue_url=QUEUE_URL.format("idp-kit-ingest"))
    r = s.replace(ingest_queue_url=QUEUE_URL.format("idp-kit-audit"), audit_queue=None)
    assert r.ingest_queue == "idp-kit-audit"
    assert Settings().replace(subscriber_queues=("idp-kit-ingest",)).audit_queue is None


# One AWS client configuration ----------------------------------------------------------------------------------------

def test_client_config_uses_standard_retries_and_outlasts_a_long_poll():
    cfg = aws_client_config(Settings(aws_max_attempts=7))
    assert cfg.retries == {"mode": "standard", "max_attempts": 7}
    assert cfg.read_timeout > SQS_MAX_WAIT_S and cfg.connect_timeout == 10
    assert "idp-kit/" in cfg.user_agent_extra


def test_aws_client_points_where_the_settings_say():
    import boto3
    s = Settings(aws_endpoint_url="http://127.0.0.1:9", aws_region="eu-central-1")
    c = aws_client(s, "sqs", boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing"))
    assert (c.meta.endpoint_url, c.meta.region_name, c.meta.config.retries["mode"]) == ("http://127.0.0.1:9", "eu-central-1", "standard")
    assert c.meta.config.read_timeout == s.aws_read_timeout_s
