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
  status              STRING    NOT NULL COMMENT 'processed | duplicate | failed | ignored | malformed | recorded (settled) | retrying | dead_lettered (left on the queue)',
  error_code          STRING    COMMENT 'Stable error code when status is failed, malformed, ignored, retrying or dead_lettered',
  error_message       STRING    COMMENT 'What went wrong, or a note on how the record was settled, for people',
  receive_count       INT       COMMENT 'SQS ApproximateReceiveCount at the latest receive',
  deliveries          INT       COMMENT 'How many times the kit has seen this message (redeliveries add one)',
  sent_at             TIMESTAMP COMMENT 'SQS SentTimestamp (UTC)',
  first_received_at   TIMESTAMP COMMENT 'When the kit first received the message (UTC)',
  last_received_at    TIMESTAMP COMMENT 'When the kit last received the message (UTC)',
  run_id              STRING    COMMENT 'Poller run that last wrote the row (see ingestion_runs)',
  raw_body            STRING    COMMENT 'The message body exactly as received, for replay',
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
  processed_at        TIMESTAMP COMMENT 'When the document was parsed (UTC)'
) USING DELTA
LOCATION '${location}/${schema}/document_results'
COMMENT 'One row per document revision, keyed by (document_id, revision_id); a duplicate delivery never adds one';

CREATE TABLE IF NOT EXISTS ${schema}.ingestion_runs (
  run_id              STRING    NOT NULL COMMENT 'Unique id of one poller run',
  queue_name          STRING    COMMENT 'Queue the run polled',
  mode                STRING    COMMENT 'ingest (parse and store results) | audit (record events only)',
  status              STRING    NOT NULL COMMENT 'running | succeeded | failed',
  started_at          TIMESTAMP COMMENT 'Start of the run (UTC)',
  finished_at         TIMESTAMP COMMENT 'End of the run (UTC); null while running',
  batches             INT       COMMENT 'Receive calls that returned messages',
  messages            INT       COMMENT 'Messages received, redeliveries included',
  records             INT       COMMENT 'Metadata rows written',
  processed           INT       COMMENT 'Records whose document revision was parsed and stored',
  duplicates          INT       COMMENT 'Records whose revision was already stored',
  failed              INT       COMMENT 'Records that failed permanently (recorded, then acknowledged)',
  ignored             INT       COMMENT 'Test events, removals and other non-created events, acknowledged without work',
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
  kit_version         STRING    COMMENT 'idp_kit version that ran'
) USING DELTA
LOCATION '${location}/${schema}/ingestion_runs'
COMMENT 'One row per poller run, keyed by run_id; written when the run starts and when it ends';
