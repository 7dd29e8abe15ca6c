-- The latest runs of the ingestion job (and of replays, redrives and workers): outcome, volume, throughput.
-- Parameters: :limit (how many runs).
SELECT run_id, mode, status, stop_reason, started_at, finished_at, ROUND(elapsed_s, 1) AS elapsed_s, messages, processed,
       duplicates, failed, retrying, dead_lettered, removed, claimed_elsewhere, messages_per_s, commits, commit_conflicts,
       oldest_message_age_s, error_message
FROM ${schema}.ingestion_runs
ORDER BY started_at DESC
LIMIT :limit
