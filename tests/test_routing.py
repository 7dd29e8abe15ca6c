"""Routing: every rule file under nbs/samples/routing fails or routes exactly as it says it does.

GIVEN the documented example `rules.yaml`, WHEN each case of `cases.yaml` is routed, THEN it gets exactly the
decision and the refusals written there. GIVEN each deliberately broken file under `broken/`, WHEN it is
loaded, THEN it fails at load with the `file:line: reason` its first line (`# expect: LINE: reason`) names.
Then the precedence matrix, globs against `fnmatch`, hostile files, and boto3's real metadata and tag shapes
(through moto's S3).
"""
from __future__ import annotations

import fnmatch
import random
import re
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from idp_kit.canonical_schema import CanonicalDocument, ErrorCode, SourceMetadata
from idp_kit.parsers import NAMED_PARSERS, parse_bytes
from idp_kit.routing import (AUTO, MAX_RULE_FILE_BYTES, RouteInput, RuleFileError, apply_route, glob_regex, load_rules,
                             parse_rules)

ROUTING = Path(__file__).resolve().parent.parent / "nbs" / "samples" / "routing"
ADAPTERS = {"image", "textract"}  # registered by issue 8's OCR and engine-adapter chapters
KNOWN = set(NAMED_PARSERS) | ADAPTERS
BROKEN = sorted((ROUTING / "broken").glob("*.yaml"))
CASES = yaml.safe_load((ROUTING / "cases.yaml").read_text())
EXPECT = re.compile(r"# expect: (\d+): (.+)")


@pytest.fixture(scope="module")
def rules():
    return load_rules(ROUTING / "rules.yaml", parsers=KNOWN)


# -- the example file and its cases ------------------------------------------------------------------------------

def test_example_names_only_registered_parsers_and_the_planned_adapters():
    try: load_rules(ROUTING / "rules.yaml")
    except RuleFileError as e:
        unknown = {re.search(r"unknown parser '([^']+)'", p).group(1) for _, p in e.problems}
        assert unknown <= ADAPTERS, e


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(rules, case):
    result = rules.route(RouteInput(**case["input"]))
    assert result.decision.model_dump() == case["decision"]
    assert [f"{r.source}.{r.field}" for r in result.refusals] == case.get("refused", [])
    assert all(e.code == ErrorCode.invalid_override and e.stage == "route" for e in result.errors)


def test_every_rule_of_the_example_is_exercised_by_a_case():
    used = {c["decision"]["rule"] for c in CASES}
    assert {r.label for r in load_rules(ROUTING / "rules.yaml", parsers=KNOWN).rules} <= used


# -- broken files ------------------------------------------------------------------------------------------------

def test_every_broken_file_says_what_it_expects():
    assert len(BROKEN) >= 20
    for path in BROKEN:
        assert EXPECT.match(path.read_text().splitlines()[0]), f"{path.name}: begin with '# expect: LINE: reason'"


@pytest.mark.parametrize("path", BROKEN, ids=[p.name for p in BROKEN])
def test_broken_file_fails_at_load_with_its_line_and_reason(path):
    line, reason = EXPECT.match(path.read_text().splitlines()[0]).groups()
    with pytest.raises(RuleFileError) as e: load_rules(path, parsers=KNOWN)
    assert e.value.line == int(line)
    assert f"{path}:{line}: {reason}" in str(e.value)


def test_all_problems_are_reported_at_once_in_line_order():
    text = "rules:\n  - match: {prefx: a}\n    parser: pfd\n  - match: {size: {max: -1}}\n    priority: x\n"
    with pytest.raises(RuleFileError) as e: parse_rules(text, "r.yaml", parsers=KNOWN)
    lines = [n for n, _ in e.value.problems]
    assert lines == sorted(lines) and len(lines) == 4, str(e.value)
    assert str(e.value).splitlines()[0].startswith("r.yaml:2: unknown match key 'prefx'")


def test_file_problems(tmp_path):
    with pytest.raises(RuleFileError, match="cannot read the rule file"): load_rules(tmp_path / "missing.yaml")
    with pytest.raises(RuleFileError, match="cannot read the rule file"): load_rules(tmp_path)  # a directory
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"rules:\n  - match: {prefix: caf\xe9/}\n    parser: pdf\n")
    with pytest.raises(RuleFileError, match=r"latin1.yaml:2: not UTF-8"): load_rules(latin1, parsers=KNOWN)
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_RULE_FILE_BYTES // 10 + 1))
    with pytest.raises(RuleFileError, match="a rule file is at most"): load_rules(big)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("\ufeffrules:\n  - match: {prefix: a/}\n    parser: pdf\n".encode())
    assert load_rules(bom, parsers=KNOWN).rules[0].label == "bom.yaml:2"  # an unnamed rule is labelled file:line


def test_deeply_nested_yaml_is_refused_not_a_crash():
    with pytest.raises(RuleFileError, match="nested"): parse_rules("a: " + "[" * 3000 + "]" * 3000)


# -- precedence --------------------------------------------------------------------------------------------------

MATRIX_RULES = """
overrides: {parser: [pdf, textract]}
default: {parser: docx}
rules:
  - name: by-prefix
    match: {prefix: in/}
    parser: html
"""


@pytest.mark.parametrize("request_asks", [None, "textract", "csv"])
@pytest.mark.parametrize("metadata_asks", [None, "pdf", "markdown"])
@pytest.mark.parametrize("rule_matches", [True, False])
def test_precedence_request_then_metadata_then_rule_then_default(request_asks, metadata_asks, rule_matches):
    rs = parse_rules(MATRIX_RULES, parsers=KNOWN)
    doc = RouteInput(key="in/a.pdf" if rule_matches else "out/a.pdf", content_type="application/pdf",
                     metadata={"idp-parser": metadata_asks} if metadata_asks else {},
                     override={"parser": request_asks} if request_asks else None)
    allowed = {"pdf", "textract"}
    levels = [("request", request_asks), ("metadata", metadata_asks)]
    fallback = ("rule", "html") if rule_matches else ("default", "docx")
    want = next(((lvl, v) for lvl, v in levels if v in allowed), fallback)
    d = rs.route(doc)
    assert (d.decision.decided_by, d.decision.parser) == want
    assert d.decision.rule == ("by-prefix" if rule_matches else None)
    assert [(r.source, r.value) for r in d.refusals] == [(lvl, v) for lvl, v in levels if v and v not in allowed]


def test_nothing_listed_means_nothing_can_be_overridden():
    rs = parse_rules("rules: []", parsers=KNOWN)
    r = rs.route(RouteInput(key="k", content_type="text/plain", override={"parser": "pdf", "priority": 1},
                            metadata={"x-amz-meta-idp-document-class": "invoice"}))
    d = r.decision
    assert (d.parser, d.priority, d.document_class, d.decided_by) == ("text", 0, None, "default")
    assert [f"{x.source}.{x.field}" for x in r.refusals] == ["request.parser", "request.priority",
                                                              "metadata.document_class"]
    assert "allows no override of it" in r.refusals[0].message


def test_blank_metadata_is_not_an_override():
    r = parse_rules("rules: []", parsers=KNOWN).route(RouteInput(key="k", metadata={"idp-parser": " "}))
    assert (r.decision.decided_by, r.refusals) == ("default", ())


def test_classifier_class_is_used_below_a_rule_that_sets_one():
    rs = parse_rules("rules:\n  - match: {prefix: inv/}\n    document_class: invoice\n"
                     "  - match: {document_class: receipt}\n    priority: 3\n", parsers=KNOWN)
    assert rs.route(RouteInput(key="inv/a", document_class="receipt")).decision.document_class == "invoice"
    d = rs.route(RouteInput(key="x/a", document_class="receipt")).decision
    assert (d.document_class, d.priority) == ("receipt", 3)


def test_decisions_do_not_share_mutable_options(rules):
    doc = RouteInput(key="incoming/invoices/a.pdf", content_type="application/pdf", size=1)
    rules.route(doc).decision.options["features"].append("QUERIES")
    assert rules.route(doc).decision.options["features"] == ["TABLES", "FORMS"]


def test_refusals_are_recorded_on_the_document_and_survive_a_round_trip(rules):
    doc = parse_bytes(b"%PDF-1.4 broken", SourceMetadata(uri="s3://b/incoming/invoices/x.pdf", bucket="b",
                                                             key="incoming/invoices/x.pdf"))
    routed = apply_route(doc, rules.route(RouteInput(key="incoming/invoices/x.pdf", content_type="application/pdf",
                                                     size=15, override={"parser": "docx"})))
    again = CanonicalDocument.model_validate_json(routed.model_dump_json())
    assert again.routing.rule == "scanned-invoices" and again.status == doc.status
    assert [e.code for e in again.errors][-1] == ErrorCode.invalid_override
    assert again.errors[:-1] == doc.errors


# -- globs -------------------------------------------------------------------------------------------------------

def test_globs_agree_with_fnmatch_within_one_segment():
    rng = random.Random(8)
    alphabet = "ab.-[]!*?"
    for _ in range(3000):
        pat = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        if "**" in pat: continue
        try: rx = re.compile(glob_regex(pat))
        except ValueError: continue  # an unclosed class: fnmatch reads it as a literal '['; we refuse it
        for _ in range(5):
            key = "".join(rng.choice("ab.-[]!") for _ in range(rng.randint(0, 5)))
            assert (rx.fullmatch(key) is not None) == fnmatch.fnmatchcase(key, pat), (pat, key)


@pytest.mark.parametrize("glob,key,hit", [
    ("incoming/**/*.pdf", "incoming/a.pdf", True), ("incoming/**/*.pdf", "incoming/2024/05/a.pdf", True),
    ("incoming/*.pdf", "incoming/2024/a.pdf", False), ("**/*.pdf", "a.pdf", True), ("**/*.pdf", "x/a.PDF", False),
    ("in/**", "in/", True), ("in/**", "inx/a", False), ("*/x", "/x", True), ("a/**/b/**/c", "a/b/c", True),
    ("a/**/b/**/c", "a/1/b/2/3/c", True), ("red flower*.pdf", "red flower (1).pdf", True), ("*.pdf", "a\n.pdf", True),
])
def test_glob_semantics(glob, key, hit):
    assert (re.fullmatch(glob_regex(glob), key) is not None) == hit


# -- facts as boto3 returns them ---------------------------------------------------------------------------------

@mock_aws
def test_metadata_and_tags_as_boto3_returns_them(rules):
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket="landing", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="landing", Key="uploads/IMG 1.jpg", Body=b"x", ContentType="image/jpeg",
                  Metadata={"Source": "expense-app", "IDP-Priority": "0"}, Tagging="retention=legal-hold&team=ap")
    head = s3.head_object(Bucket="landing", Key="uploads/IMG 1.jpg")
    tags = s3.get_object_tagging(Bucket="landing", Key="uploads/IMG 1.jpg")["TagSet"]
    doc = RouteInput(key="uploads/IMG 1.jpg", content_type=head["ContentType"], size=head["ContentLength"],
                     metadata=head["Metadata"], tags=tags)
    assert doc.tags == {"retention": "legal-hold", "team": "ap"}
    d = rules.route(doc).decision
    assert (d.rule, d.parser, d.priority, d.decided_by) == ("expense-receipts", "image", 0, "metadata")


def test_auto_without_a_parser_for_the_type_stays_auto():
    rs = parse_rules("rules: []", parsers=KNOWN, by_type={"application/pdf": "pdf"})
    assert rs.route(RouteInput(key="a", content_type="APPLICATION/PDF; x=1")).decision.parser == "pdf"
    assert rs.route(RouteInput(key="a", content_type="image/heic")).decision.parser == AUTO
    assert rs.route(RouteInput(key="a")).decision.parser == AUTO
