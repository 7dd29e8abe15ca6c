-- One stored revision of a document, as the Document Processing API returns it.
--
-- ${schema}          the schema holding the kit's tables (`catalog.schema` on Databricks), filled in by the reader;
--                    every value is a named parameter, never text in the query:
-- :document_id       STRING  the document
-- :revision_id       STRING  the revision; NULL for the latest (by processed_at, then revision_id)
-- :max_json_bytes    BIGINT  document_json is returned only when it is at most this many bytes (NULL: always);
--                            document_json_bytes says how large it is, so a reader can fetch a large one by link
SELECT
  document_id,
  revision_id,
  status,
  error_code,
  error_message,
  content_type,
  pages,
  elements,
  processed_at,
  CASE
    WHEN CAST(:max_json_bytes AS BIGINT) IS NULL OR octet_length(document_json) <= CAST(:max_json_bytes AS BIGINT)
    THEN document_json
  END AS document_json,
  octet_length(document_json) AS document_json_bytes
FROM ${schema}.document_results
WHERE document_id = :document_id
  AND (CAST(:revision_id AS STRING) IS NULL OR revision_id = :revision_id)
ORDER BY processed_at DESC NULLS LAST, revision_id DESC
LIMIT 1
