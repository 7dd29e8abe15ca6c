-- p50 / p95 / p99 latency per stage, in milliseconds, of the records received since :since:
--   queued  - from SQS accepting the message to the job receiving it;
--   fetch   - reading the object from S3;   parse - parsing it;
--   settle  - from receiving the message to its outcome (waiting for its micro-batch, and the work).
-- Parameters: :since (timestamp).
SELECT 'queued' AS stage, COUNT(*) AS n,
       percentile_approx(unix_millis(first_received_at) - unix_millis(sent_at), 0.5) AS p50_ms,
       percentile_approx(unix_millis(first_received_at) - unix_millis(sent_at), 0.95) AS p95_ms,
       percentile_approx(unix_millis(first_received_at) - unix_millis(sent_at), 0.99) AS p99_ms
FROM ${schema}.raw_ingestion_metadata WHERE last_received_at >= :since AND sent_at IS NOT NULL
UNION ALL
SELECT 'fetch', COUNT(*), percentile_approx(fetch_ms, 0.5), percentile_approx(fetch_ms, 0.95), percentile_approx(fetch_ms, 0.99)
FROM ${schema}.raw_ingestion_metadata WHERE last_received_at >= :since AND fetch_ms IS NOT NULL
UNION ALL
SELECT 'parse', COUNT(*), percentile_approx(parse_ms, 0.5), percentile_approx(parse_ms, 0.95), percentile_approx(parse_ms, 0.99)
FROM ${schema}.raw_ingestion_metadata WHERE last_received_at >= :since AND parse_ms IS NOT NULL
UNION ALL
SELECT 'settle', COUNT(*),
       percentile_approx(unix_millis(updated_at) - unix_millis(last_received_at), 0.5),
       percentile_approx(unix_millis(updated_at) - unix_millis(last_received_at), 0.95),
       percentile_approx(unix_millis(updated_at) - unix_millis(last_received_at), 0.99)
FROM ${schema}.raw_ingestion_metadata WHERE last_received_at >= :since
