-- What went wrong since :since, by class: permanent failures (failed, malformed) settle at once; transient ones
-- (retrying, dead_lettered) are retried and, on the last delivery, dead-lettered. One row per status and code.
-- Parameters: :since (timestamp).
SELECT CASE WHEN status IN ('failed', 'malformed') THEN 'permanent' ELSE 'transient' END AS class,
       status, error_code, COUNT(*) AS records, MAX(last_received_at) AS last_seen
FROM ${schema}.raw_ingestion_metadata
WHERE last_received_at >= :since AND status IN ('failed', 'malformed', 'retrying', 'dead_lettered')
GROUP BY status, error_code
ORDER BY records DESC
