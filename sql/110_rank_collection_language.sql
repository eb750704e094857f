-- The language a collection's documents are written in (owned by rank):
-- a canonical Snowball algorithm name of Debian's libstemmer ("german",
-- "french", "english", ...), the stemmer its index is built with and
-- recorded in the index so queries are stemmed the same way. NULL (the
-- default, and every existing collection): the built-in conservative
-- English stemmer, which ranked better than Snowball English on the
-- project's English eval sets. rag-admin and the indexer refuse a name
-- libstemmer does not have; the check here is only on its form.
ALTER TABLE collections ADD COLUMN IF NOT EXISTS language text
    CHECK (language ~ '^[a-z_]{2,31}$');
