-- Every stored revision of a document, newest first, without the canonical document itself.
--
-- ${schema}          the schema holding the kit's tables (`catalog.schema` on Databricks), filled in by the reader;
--                    every value is a named parameter, never text in the query:
-- :document_id       STRING  the document
SELECT
  document_id,
  revision_id,
  status,
  error_code,
  error_message,
  content_type,
  pages,
  elements,
  processed_at
FROM ${schema}.document_results
WHERE document_id = :document_id
ORDER BY processed_at DESC NULLS LAST, revision_id DESC
