-- idp_kit Delta tables: every SQS message, every poller run, every parsed document revision.
--
-- The one source of the tables' DDL. The kit runs it on the local engine (Sail) and prints it for
-- Databricks SQL with `idp-kit sql render --schema main.idp_kit`. Two placeholders:
--   ${schema}    the schema (`catalog.schema` on Databricks) that holds the tables;
--   ${location}  a directory or s3:// URI for the tables' files (each schema gets a folder of its own below it).
--                Lines that mention it are dropped when no location is configured, which makes the tables
--                managed (the Databricks default).
-- Statements end with a semicolon at the end of a line. Writes are MERGEs keyed as each table says, so a
-- redelivered message or a re-sent event for the same object version never adds a row.

CREATE SCHEMA IF NOT EXISTS ${schema}
COMMENT 'idp_kit: document ingestion tracking and results';

CREATE TABLE IF NOT EXISTS ${schema}.raw_ingestion_metadata (
  queue_name          STRING    NOT NULL COMMENT 'SQS queue the message was received from',
  message_id          STRING    NOT NULL COMMENT 'SQS MessageId; stable across redeliveries of one message',
  record_index        INT       NOT NULL COMMENT 'Position of the S3 record in the message (0 for messages without records)',
  kind                STRING    COMMENT 'What the body was: s3 | test_event | eventbridge | malformed',
  envelope            STRING    COMMENT 'How it was delivered: direct (S3 to SQS, raw SNS delivery, or EventBridge to SQS: indistinguishable) | sns',
  event_name          STRING    COMMENT 'S3 event name without the s3: prefix, e.g. ObjectCreated:Put',
  event_time          TIMESTAMP COMMENT 'When S3 says the event happened (UTC)',
  sequencer           STRING    COMMENT 'S3 sequencer (hex); orders events for one key only',
  bucket              STRING    COMMENT 'Source bucket',
  object_key          STRING    COMMENT 'Decoded object key (never the form-encoded one)',
  version_id          STRING    COMMENT 'Object version id, on versioned buckets',
  etag                STRING    COMMENT 'Object ETag as the event gives it, without quotes',
  size                BIGINT    COMMENT 'Object size in bytes as the event gives it',
  document_id         STRING    COMMENT 'Deterministic id of the source object (UUIDv5 of s3://bucket/key)',
  revision_id         STRING    COMMENT 'SHA-256 of the content that was processed, when it was fetched',
  status              STRING    NOT NULL COMMENT 'processed | duplicate | failed | ignored | removed | malformed | recorded (settled) | retrying | dead_lettered (left on the queue)',
  error_code          STRING    COMMENT 'Stable code (tracking.RecordCode) when status is failed, malformed, ignored, removed, retrying or dead_lettered',
  error_message       STRING    COMMENT 'What went wrong, or a note on how the record was settled, for people',
  receive_count       INT       COMMENT 'SQS ApproximateReceiveCount at the latest receive',
  deliveries          INT       COMMENT 'How many times the kit has seen this message (redeliveries add one)',
  sent_at             TIMESTAMP COMMENT 'SQS SentTimestamp (UTC)',
  first_received_at   TIMESTAMP COMMENT 'When the kit first received the message (UTC)',
  last_received_at    TIMESTAMP COMMENT 'When the kit last received the message (UTC)',
  run_id              STRING    COMMENT 'Poller run that last wrote the row (see ingestion_runs)',
  raw_body            STRING    COMMENT 'The message body exactly as received, for replay',
  fetch_ms            DOUBLE    COMMENT 'Time spent fetching the object from S3, in milliseconds',
  parse_ms            DOUBLE    COMMENT 'Time spent parsing the object, in milliseconds',
  worker_run_id       BIGINT    COMMENT 'Databricks Jobs run that fetched and parsed the record (dispatch mode)',
  replay_id           STRING    COMMENT 'The replay (see ingestion_runs, mode replay) that sent this message again, if one did',
  route_parser        STRING    COMMENT 'The parser or engine adapter routing chose for the document (auto: by content type)',
  route_rule          STRING    COMMENT 'The routing rule that decided, if one did (the decision itself is in the document)',
  updated_at          TIMESTAMP COMMENT 'When the row was last written (UTC)'
) USING DELTA
LOCATION '${location}/${schema}/raw_ingestion_metadata'
COMMENT 'One row per SQS message and S3 record, keyed by (queue_name, message_id, record_index); a redelivery updates its row';

CREATE TABLE IF NOT EXISTS ${schema}.document_results (
  document_id         STRING    NOT NULL COMMENT 'Deterministic id of the source object (UUIDv5 of its URI)',
  revision_id         STRING    NOT NULL COMMENT 'SHA-256 of the content; new content under an old key is a new revision',
  bucket              STRING    COMMENT 'Source bucket',
  object_key          STRING    COMMENT 'Decoded object key',
  version_id          STRING    COMMENT 'Object version id the content was read from',
  etag                STRING    COMMENT 'Object ETag, without quotes',
  event_time          TIMESTAMP COMMENT 'When S3 says the revision was written: with sequencer, orders the revisions of one key',
  sequencer           STRING    COMMENT 'S3 sequencer of the event that delivered the revision (hex)',
  removed_at          TIMESTAMP COMMENT 'When an object-removed event newer than this revision marked the document deleted',
  content_type        STRING    COMMENT 'Content type detected from the bytes',
  status              STRING    NOT NULL COMMENT 'parsed | failed | unsupported',
  error_code          STRING    COMMENT 'First error code when not parsed',
  error_message       STRING    COMMENT 'First error message when not parsed',
  parser_name         STRING    COMMENT 'Parser that produced the document',
  parser_version      STRING    COMMENT 'Parser and library version',
  pages               INT       COMMENT 'Number of pages',
  elements            INT       COMMENT 'Number of typed elements',
  bytes               BIGINT    COMMENT 'Size of the content in bytes',
  parse_ms            DOUBLE    COMMENT 'Time spent parsing, in milliseconds',
  schema_version      STRING    COMMENT 'Canonical schema version of document_json',
  document_json       STRING    COMMENT 'The canonical document (JSON, see docs/canonical_document.schema.json)',
  message_id          STRING    COMMENT 'SQS message that first delivered this revision',
  run_id              STRING    COMMENT 'Poller run that wrote the row',
  processed_at        TIMESTAMP COMMENT 'When the document was parsed (UTC)',
  parent_document_id  STRING    COMMENT 'The document this one was found in (an email for its attachments); NULL for an object',
  document_class      STRING    COMMENT 'The class routing or the classification hook gave the document',
  route_parser        STRING    COMMENT 'The parser or engine adapter routing chose (auto: by content type)',
  route_rule          STRING    COMMENT 'The routing rule that decided (its name), if one did; decided_by is in document_json'
) USING DELTA
LOCATION '${location}/${schema}/document_results'
COMMENT 'One row per document revision, keyed by (document_id, revision_id); a duplicate delivery never adds one';

CREATE TABLE IF NOT EXISTS ${schema}.ingestion_runs (
  run_id              STRING    NOT NULL COMMENT 'Unique id of one poller run',
  queue_name          STRING    COMMENT 'Queue the run polled',
  mode                STRING    COMMENT 'ingest (parse and store results) | audit (record events only) | replay | redrive | worker',
  status              STRING    NOT NULL COMMENT 'running | succeeded | failed | abandoned (its owner died; set by the sweeper)',
  started_at          TIMESTAMP COMMENT 'Start of the run (UTC)',
  finished_at         TIMESTAMP COMMENT 'End of the run (UTC); null while running',
  batches             INT       COMMENT 'Micro-batches committed',
  messages            INT       COMMENT 'Messages received, redeliveries included',
  records             INT       COMMENT 'Metadata rows written',
  processed           INT       COMMENT 'Records whose document revision was parsed and stored',
  duplicates          INT       COMMENT 'Records whose revision was already stored',
  failed              INT       COMMENT 'Records that failed permanently (recorded, then acknowledged)',
  ignored             INT       COMMENT 'Test events and other events that are neither creations nor removals, acknowledged without work',
  removed             INT       COMMENT 'Object-removed events: the document was marked deleted',
  malformed           INT       COMMENT 'Messages whose body could not be decoded',
  recorded            INT       COMMENT 'Records only recorded (audit mode)',
  retrying            INT       COMMENT 'Records left on the queue for a retry after a transient error',
  dead_lettered       INT       COMMENT 'Records that failed transiently on their last allowed delivery: SQS moves them to the DLQ',
  redeliveries        INT       COMMENT 'Messages already recorded by an earlier receive',
  deleted             INT       COMMENT 'Messages deleted from the queue after the commit',
  delete_failures     INT       COMMENT 'Deletes SQS refused; those messages come back and are recognised as redeliveries',
  bytes               BIGINT    COMMENT 'Bytes fetched from S3',
  elapsed_s           DOUBLE    COMMENT 'Wall time of the run in seconds',
  idle_s              DOUBLE    COMMENT 'Seconds spent in receives that returned nothing (long polls on an empty queue)',
  error_message       STRING    COMMENT 'Why the run failed, if it did',
  kit_version         STRING    COMMENT 'idp_kit version that ran',
  host                STRING    COMMENT 'Host name of the process that ran it',
  pid                 INT       COMMENT 'Process id on that host',
  heartbeat_at        TIMESTAMP COMMENT 'Last sign of life; a running run silent past lease_until is abandoned by the sweeper',
  lease_until         TIMESTAMP COMMENT 'The run counts as alive until then (renewed with every heartbeat)',
  stop_reason         STRING    COMMENT 'drained | max_messages | max_runtime | signal | error',
  receivers           INT       COMMENT 'Receiver threads per queue',
  commits             INT       COMMENT 'Delta commits the run made',
  commit_conflicts    INT       COMMENT 'Commit attempts that lost to a concurrent writer and were retried',
  sqs_calls           INT       COMMENT 'SQS requests the run made (receives, deletes, visibility changes)',
  claimed_elsewhere   INT       COMMENT 'Records whose revision another live run had claimed: released for a later delivery',
  dispatched          INT       COMMENT 'Work units sent to Databricks worker job runs',
  released            INT       COMMENT 'Messages given back to the queue with a backoff (not settled in this run)',
  oldest_message_age_s DOUBLE   COMMENT 'Age of the oldest message the run received (now minus SentTimestamp), in seconds',
  messages_per_s      DOUBLE    COMMENT 'Messages settled per second of wall time',
  latency_ms          STRING    COMMENT 'Per-stage latency percentiles (JSON: stage -> {p50, p95, p99, n}) in milliseconds',
  detail              STRING    COMMENT 'The run parameters and anything specific to its mode (JSON)'
) USING DELTA
LOCATION '${location}/${schema}/ingestion_runs'
COMMENT 'One row per poller, replay, redrive or worker run, keyed by run_id; written at start, on heartbeats and at the end';

CREATE TABLE IF NOT EXISTS ${schema}.revision_claims (
  document_id         STRING    NOT NULL COMMENT 'Document whose revision is claimed',
  content_key         STRING    NOT NULL COMMENT 'What names the content before it is fetched: v:<version id>, e:<etag>, s:<sequencer>, or m:<message id> for a reprocess',
  run_id              STRING    COMMENT 'Run that holds (or last held) the claim',
  status              STRING    NOT NULL COMMENT 'claimed (being fetched and parsed) | released (its run finished, gave it up or died)',
  claimed_at          TIMESTAMP COMMENT 'When the current owner claimed it (UTC)',
  lease_until         TIMESTAMP COMMENT 'The claim is void after this instant unless done',
  attempts            INT       COMMENT 'How many times the revision has been claimed',
  queue_name          STRING    COMMENT 'Queue of the message that led to the claim',
  message_id          STRING    COMMENT 'That message',
  updated_at          TIMESTAMP COMMENT 'When the row was last written (UTC)'
) USING DELTA
LOCATION '${location}/${schema}/revision_claims'
COMMENT 'One row per object content being or having been parsed, keyed by (document_id, content_key): concurrent pollers never parse one twice';
