-- Followers (rag-reindex --follow on each nginx machine) LISTEN on
-- rag_index and rebuild a collection's index file locally when its
-- recorded generation changes. The payload is the collection name; the
-- notification is delivered at commit, after the writer's file is in
-- place and the new generation is visible.
CREATE FUNCTION rag_index_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.index_generation IS DISTINCT FROM OLD.index_generation THEN
        PERFORM pg_notify('rag_index', NEW.name);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER collections_index_notify
    AFTER UPDATE OF index_generation ON collections
    FOR EACH ROW EXECUTE FUNCTION rag_index_notify();
