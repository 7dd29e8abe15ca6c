"""The gaps `idp_kit.moto_fidelity` patches are still there in stock moto: each check runs unpatched moto in a fresh
process and fails once moto behaves like AWS, so a moto upgrade that fixes one tells us to drop its patch."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import moto

from idp_kit.moto_fidelity import PATCHED_MOTO_VERSION

PROBE = textwrap.dedent('''
    import json, boto3
    from moto.server import ThreadedMotoServer
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False); srv.start()
    kw = dict(endpoint_url=f"http://127.0.0.1:{srv.get_host_and_port()[1]}", region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
    sqs, s3 = boto3.client("sqs", **kw), boto3.client("s3", **kw)
    out = {}
    d = sqs.create_queue(QueueName="d", Attributes={"RedriveAllowPolicy": '{"redrivePermission":"allowAll"}'})["QueueUrl"]
    out["redrive_allow_returned"] = "RedriveAllowPolicy" in sqs.get_queue_attributes(QueueUrl=d, AttributeNames=["All"])["Attributes"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                                                  "Resource": "arn:aws:sqs:us-east-1:123456789012:q"}]})
    q = sqs.create_queue(QueueName="q", Attributes={"Policy": policy})["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=q, Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:d", "maxReceiveCount": 3})})
    attrs = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["All"])["Attributes"]
    out["redrive_policy_compact"] = " " not in attrs["RedrivePolicy"]
    out["policy_kept"] = "Policy" in attrs
    s3.create_bucket(Bucket="probe")
    s3.put_bucket_notification_configuration(Bucket="probe", NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:d", "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket="probe", Key="incoming/a b.txt", Body=b"x")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=d, MaxNumberOfMessages=10)["Messages"]]
    out["event_key"] = [b["Records"][0]["s3"]["object"]["key"] for b in bodies if "Records" in b][0]
    srv.stop()
    print(json.dumps(out))
''')


def stock_moto() -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_patches_target_the_pinned_moto():
    assert moto.__version__ == PATCHED_MOTO_VERSION


def test_stock_moto_still_has_every_gap_the_patches_fill():
    found = stock_moto()
    assert found["redrive_allow_returned"] is False, "moto now returns RedriveAllowPolicy: drop gaps 1 and 3 from the patch"
    assert found["redrive_policy_compact"] is False, "moto now returns compact RedrivePolicy JSON: drop gap 2"
    assert found["policy_kept"] is False, "moto now keeps the queue policy on SetQueueAttributes: drop gap 4"
    assert found["event_key"] == "incoming%2Fa+b.txt", "moto now encodes event keys as AWS does: drop gap 5"
