-- Delete every stored result of a document: the Document Processing API's DELETE purges them.
--
-- ${schema}          the schema holding the kit's tables (`catalog.schema` on Databricks), filled in by the reader;
--                    every value is a named parameter, never text in the query:
-- :document_id       STRING  the document
DELETE FROM ${schema}.document_results
WHERE document_id = :document_id
