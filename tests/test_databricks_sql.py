"""The Document Processing API's result reader (`idp_kit.databricks_sql`) through the real databricks-sdk, against the
Databricks SQL emulator on a real local stack (Sail): rows written by the kit's own tracking functions come back
exactly, in several chunks and by external link; values are bound, never spliced; errors are the SDK's or ours."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied, ResourceDoesNotExist
from databricks.sdk.service.sql import Disposition, ExecuteStatementRequestOnWaitTimeout, StatementState

from conftest import REPO, SAMPLES
from idp_kit.canonical_schema import SourceMetadata, s3_uri
from idp_kit.databricks_emulator import STATEMENTS_PATH, DatabricksEmulator
from idp_kit.databricks_sql import (QUERY_DOCUMENT_REVISIONS, ResultReader, StatementFailed, StatementTimeout,
                                    render_query, run_statement)
from idp_kit.local import LocalStack
from idp_kit.parsers import parse_bytes
from idp_kit.settings import Settings
from idp_kit.tracking import RESULTS_TABLE, ensure_tables, merge_results, result_row, table_name

pytestmark = pytest.mark.slow

TOKEN, WAREHOUSE = "dapi-emulator-token", "emulated-warehouse-1"
HOSTILE_ID = "doc'; DROP TABLE idp_kit.document_results; --"
RESULT_FIELDS = ("document_id", "revision_id", "status", "error_code", "error_message", "content_type", "pages",
                 "elements", "processed_at", "document_json")


class Clock:
    "A wall clock the test can move forward (to expire external links without sleeping)."
    def __init__(self) -> None: self.offset = 0.0
    def __call__(self) -> float: return time.time() + self.offset


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(Settings(), provision=False) as s:  # Delta only: no AWS resources needed
        yield s


@pytest.fixture(scope="module")
def settings(stack: LocalStack) -> Settings:
    return stack.settings.replace(databricks_warehouse_id=WAREHOUSE)


def stored_row(data: bytes, key: str, **override: Any) -> dict[str, Any]:
    "The `document_results` row of `data` parsed as s3://inbox/`key`."
    doc = parse_bytes(data, SourceMetadata(uri=s3_uri("inbox", key), bucket="inbox", key=key))
    return result_row(doc, message_id="m-1", run_id="r-1") | override


@pytest.fixture(scope="module")
def rows(stack: LocalStack, settings: Settings) -> dict[str, dict[str, Any]]:
    "Rows written with the kit's own writer: two revisions of a letter, a failed document, a hostile document id."
    letter = (SAMPLES / "letter.txt").read_bytes()
    out = {"old": stored_row(letter, "letters/letter.txt"),
           "new": stored_row(letter + b"\nP.S. See you in Oslo.\n", "letters/letter.txt"),
           "failed": stored_row(b"", "letters/empty.txt"),
           "hostile": stored_row(letter, "letters/hostile.txt", document_id=HOSTILE_ID)}
    spark = stack.spark()
    ensure_tables(spark, settings)
    merge_results(spark, settings, list(out.values()))
    return out


@pytest.fixture(scope="module")
def clock() -> Clock: return Clock()


@pytest.fixture(scope="module")
def emulator(settings: Settings, rows: dict, clock: Clock) -> Iterator[DatabricksEmulator]:
    with DatabricksEmulator(settings, token=TOKEN, warehouse_id=WAREHOUSE, chunk_rows=1, clock=clock) as e:
        yield e  # one row a chunk: every result of two rows or more comes in several


@pytest.fixture(scope="module")
def w(emulator: DatabricksEmulator) -> WorkspaceClient:
    return WorkspaceClient(host=emulator.url, token=TOKEN)


def revisions_query(settings: Settings, rows: dict) -> tuple[str, dict[str, Any]]:
    "The revisions query of the letter, and its parameters."
    return render_query(QUERY_DOCUMENT_REVISIONS, settings.delta_schema), {"document_id": rows["new"]["document_id"]}


def downloads(emulator: DatabricksEmulator, since: int) -> list[tuple[str, str, bool]]:
    return [c for c in emulator.calls[since:] if c[1].startswith("/external-results/")]


# ---------------------------------------------------------------- what comes back

def test_a_stored_result_round_trips_exactly(settings, rows, w):
    # GIVEN a parsed document's row, written by merge_results
    new = rows["new"]
    # WHEN the reader reads its latest revision through the SDK
    got = ResultReader(settings, w).document_result(new["document_id"])
    # THEN every field is what was written, typed: status and error code as enums, processed_at to the microsecond
    assert {f: getattr(got, f) for f in RESULT_FIELDS} == {f: new[f] for f in RESULT_FIELDS}
    assert got.document().model_dump_json() == new["document_json"]


def test_a_failed_document_comes_back_with_its_error(settings, rows, w):
    failed = ResultReader(settings, w).document_result(rows["failed"]["document_id"])
    assert (failed.status.value, failed.error_code.value) == ("failed", "empty")
    assert failed.error_message == rows["failed"]["error_message"]


def test_a_given_revision_and_all_revisions_newest_first(settings, rows, w):
    reader, old, new = ResultReader(settings, w), rows["old"], rows["new"]
    assert reader.document_result(old["document_id"], old["revision_id"]).document_json == old["document_json"]
    assert [r.revision_id for r in reader.revisions(new["document_id"])] == [new["revision_id"], old["revision_id"]]
    assert reader.document_result("no-such-document") is None and reader.revisions("no-such-document") == []


def test_a_client_process_needs_only_the_emulators_env(rows, emulator, monkeypatch):
    # GIVEN only the variables the emulator names (as a Lambda or a CLI process would get them)
    for name, value in emulator.env().items(): monkeypatch.setenv(name, value)
    # WHEN the reader is made from Settings() and the SDK's own environment lookup
    reader = ResultReader(Settings())
    # THEN it reads through the emulator
    assert reader.warehouse_id == WAREHOUSE and len(reader.revisions(rows["new"]["document_id"])) == 2


# ---------------------------------------------------------------- chunks and links

def test_several_chunks_and_external_links_return_the_same_rows(settings, rows, emulator, w):
    # GIVEN an emulator that puts one row in each chunk, and the revisions query
    sql, params = revisions_query(settings, rows)
    # WHEN the same statement is read inline and by external links
    since = len(emulator.calls)
    inline = list(run_statement(w, WAREHOUSE, sql, params))
    inline_calls = emulator.calls[since:]
    linked = list(run_statement(w, WAREHOUSE, sql, params, disposition="EXTERNAL_LINKS"))
    # THEN both give the same two rows, from two chunks each; the links were fetched without the token
    assert inline == linked and len(inline) == 2
    assert sum("/result/chunks/" in path for _, path, _ in inline_calls) == 1  # the first chunk came with the statement
    assert [(m, token) for m, _, token in downloads(emulator, since)] == [("GET", False), ("GET", False)]


def test_the_manifest_counts_chunks_and_rows(settings, rows, w):
    from databricks.sdk.service.sql import StatementParameterListItem
    sql = render_query(QUERY_DOCUMENT_REVISIONS, settings.delta_schema)
    r = w.statement_execution.execute_statement(sql, WAREHOUSE, parameters=[
        StatementParameterListItem(name="document_id", value=rows["new"]["document_id"])])
    assert (r.manifest.total_chunk_count, r.manifest.total_row_count, r.result.next_chunk_index) == (2, 2, 1)
    assert [c.name for c in r.manifest.schema.columns][:2] == ["document_id", "revision_id"]
    assert r.manifest.schema.columns[-1].type_text == "TIMESTAMP"


def test_a_large_document_is_fetched_by_link_and_forced_links_agree(settings, rows, emulator, w):
    # GIVEN a reader for which the letter's document_json is too large to come inline
    new, since = rows["new"], len(emulator.calls)
    small_inline = ResultReader(settings, w, inline_json_bytes=100)
    # WHEN it reads the letter
    got = small_inline.document_result(new["document_id"])
    # THEN it came by link, without the token, and is the same as read inline or with links throughout
    assert got.document_json == new["document_json"] and len(downloads(emulator, since)) == 1
    linked = ResultReader(settings, w, disposition="EXTERNAL_LINKS")
    inline = ResultReader(settings, w, disposition="INLINE")
    assert got == inline.document_result(new["document_id"]) == linked.document_result(new["document_id"])
    assert linked.revisions(new["document_id"]) == ResultReader(settings, w).revisions(new["document_id"])


def test_an_expired_link_is_asked_for_again(settings, rows, emulator, w, clock):
    sql, params = revisions_query(settings, rows)
    pending = run_statement(w, WAREHOUSE, sql, params, disposition="EXTERNAL_LINKS")  # executed; links handed out
    clock.offset += 901  # every link handed out so far has expired (after 900 s); results are kept for 3600 s
    since = len(emulator.calls)
    assert len(list(pending)) == 2
    refetched = [p for _, p, _ in emulator.calls[since:] if p.endswith("/result/chunks/0")]
    assert refetched, "the expired first link should have been replaced through get_statement_result_chunk_n"


def test_an_external_link_refuses_the_workspace_token(w):
    r = w.statement_execution.execute_statement("SELECT 1 AS one", WAREHOUSE, disposition=Disposition.EXTERNAL_LINKS)
    link = r.result.external_links[0].external_link
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(link, headers={"Authorization": f"Bearer {TOKEN}"}))
    assert e.value.code == 400 and b"Only one auth mechanism allowed" in e.value.read()


# ---------------------------------------------------------------- values are bound

def test_hostile_values_are_bound_not_spliced(stack, settings, rows, w):
    # GIVEN a stored row whose document_id is an SQL injection attempt
    reader = ResultReader(settings, w)
    # WHEN it is read by that id, and a revision is asked for with another
    got = reader.document_result(HOSTILE_ID)
    missing = reader.document_result(rows["new"]["document_id"], "x' OR '1'='1")
    # THEN the id matched exactly, the other matched nothing, and the table is intact
    assert (got.document_id, got.revision_id, missing) == (HOSTILE_ID, rows["hostile"]["revision_id"], None)
    count = stack.spark().sql(f"SELECT COUNT(*) AS n FROM {table_name(settings, RESULTS_TABLE)}").collect()[0].n
    assert count == len(rows)


def test_typed_parameters_are_cast_by_the_warehouse(w):
    from datetime import date, datetime, timezone
    from decimal import Decimal
    params = {"i": 9007199254740993, "f": 0.1, "b": True, "d": date(2024, 2, 29), "n": None, "dec": Decimal("12.50"),
              "t": datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc), "s": "Zoë's \"quotes\"; --"}
    sql = "SELECT " + ", ".join(f":{k} AS {k}" for k in params)
    assert list(run_statement(w, WAREHOUSE, sql, params)) == [params]


# ---------------------------------------------------------------- errors

def test_a_bad_token_raises_the_sdks_permission_error(settings, emulator):
    intruder = WorkspaceClient(host=emulator.url, token="not-the-token")
    with pytest.raises(PermissionDenied, match="Invalid access token"):
        ResultReader(settings, intruder).revisions("any")


def test_no_token_is_401_in_databricks_error_shape(emulator):
    body = json.dumps({"statement": "SELECT 1", "warehouse_id": WAREHOUSE}).encode()
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(emulator.url + STATEMENTS_PATH, body, method="POST"))
    assert e.value.code == 401 and set(json.loads(e.value.read())) == {"error_code", "message"}


def test_failing_sql_raises_statement_failed_with_the_engines_message(w):
    with pytest.raises(StatementFailed) as e:
        run_statement(w, WAREHOUSE, "SELECT * FROM idp_kit.no_such_table")
    assert (e.value.state, e.value.error_code) == ("FAILED", "BAD_REQUEST") and "no_such_table" in e.value.message
    with pytest.raises(StatementFailed, match="FAILED"):  # a value that does not cast to its type fails the statement
        run_statement(w, WAREHOUSE, "SELECT CAST(:d AS DATE) AS d", {"d": "2024-13-45"})


def test_unknown_statement_id_and_warehouse_are_not_found(settings, w):
    with pytest.raises(NotFound):
        w.statement_execution.get_statement("01ef0000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound):
        w.statement_execution.get_statement_result_chunk_n("01ef0000-0000-0000-0000-000000000000", 0)
    with pytest.raises(ResourceDoesNotExist, match="does not exist"):
        ResultReader(settings.replace(databricks_warehouse_id="no-such-warehouse"), w).revisions("any")


def test_an_unset_warehouse_names_its_variable_before_any_client_is_made():
    with pytest.raises(ValueError, match="IDP_DATABRICKS_WAREHOUSE_ID"):
        ResultReader(Settings(databricks_warehouse_id=None))  # no WorkspaceClient given, none made


# ---------------------------------------------------------------- waiting

def test_polling_past_the_wait_timeout(w):
    # wait_timeout=0s answers PENDING at once: the reader polls get_statement until the statement ends
    rows = run_statement(w, WAREHOUSE, "SELECT id FROM range(3)", wait_timeout="0s")
    assert list(rows) == [{"id": i} for i in range(3)]


def test_timeouts_cancel_the_statement(emulator, w):
    # GIVEN the warehouse's one thread held busy, so statements stay queued
    gate = threading.Event()
    busy = emulator.warehouse.executor.submit(gate.wait)
    try:
        # WHEN the reader's own timeout runs out, and when a 5 s wait runs out with on_wait_timeout=CANCEL
        with pytest.raises(StatementTimeout) as e:
            run_statement(w, WAREHOUSE, "SELECT 1 AS one", wait_timeout="0s", timeout_s=0.3)
        sync = w.statement_execution.execute_statement("SELECT 2 AS two", WAREHOUSE, wait_timeout="5s",
                                                       on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL)
    finally:
        gate.set(); busy.result()
    # THEN both statements are CANCELED
    assert w.statement_execution.get_statement(e.value.statement_id).status.state == StatementState.CANCELED
    assert sync.status.state == StatementState.CANCELED


# ---------------------------------------------------------------- the Lambda's import

def test_the_reader_imports_without_pyspark_or_the_sdk():
    code = ("import sys; sys.modules['pyspark'] = None\nimport idp_kit.databricks_sql\n"
            "print(sorted(m for m in ('databricks.sdk', 'pyspark.sql') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr[-2000:]
