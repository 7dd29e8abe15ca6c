"""Delta writes from concurrent Spark Connect sessions on one Sail server: commit conflicts are retried, nothing is
lost or duplicated, and each schema keeps its own tables. Conflict counts are printed (run with `-s` to see them)."""
from __future__ import annotations

import collections
import threading
import time
from typing import Any

import pytest
from pyspark.sql import SparkSession

from idp_kit.local import LocalStack
from idp_kit.settings import Settings
from idp_kit.tracking import (METADATA_TABLE, RESULTS_TABLE, IngestionRecord, ensure_tables, merge_metadata,
                              merge_results, table_counts, table_name, with_commit_retry)

pytestmark = pytest.mark.slow

ROUNDS = 15  # per writer; each round is one results MERGE and one metadata MERGE, back to back like `commit_batch`


@pytest.fixture(scope="module")
def stack():
    with LocalStack(Settings(), provision=False) as s:  # Delta only: no AWS resources needed
        yield s


def isolated(stack: LocalStack, name: str) -> Settings:
    "Settings with their own schema *and* their own files (the DDL puts every schema's tables under delta_location)."
    return stack.settings.model_copy(update={"delta_schema": name, "delta_location": f"{stack.settings.delta_location}/{name}"})


def new_session(stack: LocalStack) -> SparkSession:
    "A second Spark Connect session to the stack's Sail server (stop it before the stack goes, or exit hangs)."
    return SparkSession.builder.remote(stack.spark_remote).config("spark.sql.session.timeZone", "UTC").create()


class CountingSpark:
    "A Spark session that counts MERGE attempts and the errors they raised; everything else is passed through."
    def __init__(self, spark: SparkSession, stats: collections.Counter, errors: list[str]) -> None:
        self._spark, self._stats, self._errors = spark, stats, errors

    def __getattr__(self, name: str) -> Any: return getattr(self._spark, name)

    def sql(self, query: str, *args: Any, **kw: Any) -> Any:
        if not query.lstrip().startswith("MERGE"): return self._spark.sql(query, *args, **kw)
        self._stats["merge_attempts"] += 1
        try: return self._spark.sql(query, *args, **kw)  # Spark Connect runs a command eagerly
        except Exception as e:
            self._stats["merge_errors"] += 1; self._errors.append(str(e).splitlines()[0][:120])
            raise


def result(document_id: str, revision_id: str, writer: str) -> dict[str, Any]:
    return dict(document_id=document_id, revision_id=revision_id, object_key=document_id, status="parsed", message_id=writer)


def test_two_writers_conflict_but_nothing_escapes_is_lost_or_duplicated(stack):
    # GIVEN two writers, each with its own Spark Connect session, on the same two tables
    settings = isolated(stack, "conc_two_writers")
    ensure_tables(stack.spark(), settings)
    stats, errors, escaped = collections.Counter(), [], []
    written = {"results": set(), "metadata": set()}  # keys of every MERGE that returned normally
    lock = threading.Lock()

    def writer(name: str) -> None:
        session = new_session(stack)
        try:
            ensure_tables(session, settings)  # Sail's catalog is per session: each session registers the tables
            spark = CountingSpark(session, stats, errors)
            for r in range(ROUNDS):
                # each round writes own keys and one key both writers write ("shared"), like two pollers that
                # received the same message
                results = [result(f"doc-{name}-{r}", "rev", name), result("doc-shared", f"rev-{r}", name)]
                records = [IngestionRecord(queue_name="q", message_id=m, status="processed") for m in (f"{name}-{r}", f"shared-{r}")]
                for table, fn, rows, keys in (("results", merge_results, results, {(x["document_id"], x["revision_id"]) for x in results}),
                                              ("metadata", merge_metadata, records, {x.message_id for x in records})):
                    try: fn(spark, settings, rows)
                    except Exception as e:  # recorded, and the writer carries on, so the data check below still runs
                        with lock: escaped.append(f"{name} round {r} {table}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
                        continue
                    with lock: written[table] |= keys
        finally:
            session.stop()

    # WHEN both write back to back, many rounds, at the same time
    t0 = time.perf_counter()
    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads: t.start()
    for t in threads: t.join(120)
    elapsed = time.perf_counter() - t0
    print(f"\n[delta concurrency] {2 * ROUNDS * 2} MERGEs in {elapsed:.1f} s: {stats['merge_attempts']} attempts, "
          f"{stats['merge_errors']} failed attempts ({collections.Counter(errors).most_common(3)}); escaped: {escaped}")
    assert not any(t.is_alive() for t in threads)
    assert stats["merge_errors"] > 0, "no commit ever conflicted: this test no longer exercises the retry"

    # THEN every MERGE that returned is in the table exactly once, and nothing else is
    spark = stack.spark()
    rows = spark.sql(f"SELECT document_id, revision_id FROM {table_name(settings, RESULTS_TABLE)}").collect()
    assert sorted((r.document_id, r.revision_id) for r in rows) == sorted(written["results"])
    rows = spark.sql(f"SELECT message_id FROM {table_name(settings, METADATA_TABLE)}").collect()
    assert sorted(r.message_id for r in rows) == sorted(written["metadata"])
    # AND no write failed: with_commit_retry absorbed every conflict, so every key of every round was written
    assert escaped == [], f"{len(escaped)} of {4 * ROUNDS} MERGEs raised out of merge_results/merge_metadata: {escaped}"
    assert len(written["results"]) == 2 * ROUNDS + ROUNDS and len(written["metadata"]) == 2 * ROUNDS + ROUNDS


def test_transient_delta_log_race_is_retried():
    # GIVEN a MERGE that first fails the way Sail 0.7.2 fails while another session is committing to the same
    # table (seen in the two-writer test above: the log listing raced a concurrent commit): a SparkRuntimeException
    # with no error class and no SQL state
    from pyspark.errors.exceptions.connect import SparkRuntimeException
    calls = []
    def merge() -> str:
        calls.append(1)
        if len(calls) < 3: raise SparkRuntimeException(message="Missing commit file: expected version 0, found 8")
        return "committed"
    # WHEN it runs under the kit's retry; THEN the transient read race is retried like a commit conflict
    assert with_commit_retry(merge, base_s=0.001) == "committed"
    assert len(calls) == 3
    # AND the decision is the exception's type and class, not its words: any other error with that text is raised
    with pytest.raises(RuntimeError, match="Missing commit file"):
        with_commit_retry(lambda: (_ for _ in ()).throw(RuntimeError("Missing commit file: expected version 0")), base_s=0.001)


def test_each_schema_has_its_own_tables(stack):
    # GIVEN two schemas on one local stack, configured as a user would: only IDP_DELTA_SCHEMA differs
    a = stack.settings.model_copy(update={"delta_schema": "iso_dev"})
    b = stack.settings.model_copy(update={"delta_schema": "iso_test"})
    spark = stack.spark()
    ensure_tables(spark, a); ensure_tables(spark, b)
    # WHEN a row is written under the first schema
    merge_metadata(spark, a, [IngestionRecord(queue_name="q", message_id="only-in-dev", status="processed")])
    # THEN the second schema's table does not see it
    assert table_counts(spark, a)[METADATA_TABLE] == 1
    assert table_counts(spark, b)[METADATA_TABLE] == 0, "two schemas share one set of Delta files under delta_location"
