-- Slash command registrations (owned by bot/; issue 12).
--
-- rag-bot registers its command set (a bulk overwrite PUT per guild, or
-- globally when no guild is configured) only when the set it would send
-- differs from the one Discord last accepted: the SHA-256 of the JSON
-- body and the application id are kept here per scope. Deleting a row
-- makes the bot register that scope again at its next gateway session.
CREATE TABLE command_registrations (
    scope          text PRIMARY KEY,   -- guild id, or 'global'
    application_id text NOT NULL,
    commands_hash  text NOT NULL,      -- hex SHA-256 of the PUT body
    registered_at  timestamptz NOT NULL DEFAULT now()
);
