-- Work the queues still hold, as Delta last saw it: records received but not settled (retrying, dead_lettered),
-- per queue, with the age of the oldest (seconds since SQS accepted its message). A growing age means the job is
-- not keeping up, or a dependency keeps failing (see failures_by_class). Parameters: none.
SELECT queue_name, status, COUNT(*) AS records,
       MAX(timestampdiff(SECOND, COALESCE(sent_at, first_received_at), current_timestamp())) AS oldest_age_s
FROM ${schema}.raw_ingestion_metadata
WHERE status IN ('retrying', 'dead_lettered')
GROUP BY queue_name, status
ORDER BY oldest_age_s DESC
