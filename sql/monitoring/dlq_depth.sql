-- Records the job gave up on: dead_lettered on their last allowed delivery, so SQS moved their messages to the
-- DLQ. Until `idp-kit redrive` brings them back and they settle, they stay here. Per queue and error code.
-- Parameters: none.
SELECT queue_name, error_code, COUNT(*) AS records, COUNT(DISTINCT message_id) AS messages,
       MIN(last_received_at) AS first_seen, MAX(last_received_at) AS last_seen
FROM ${schema}.raw_ingestion_metadata
WHERE status = 'dead_lettered'
GROUP BY queue_name, error_code
ORDER BY records DESC
