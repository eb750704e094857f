#include "rag_store_interactions.h"

#include "rag_db.h"

int
rag_store_interactions_queue(PGconn *db, const char *interaction_json)
{
    const char *p[1] = {interaction_json};

    return rag_db_count(
        db,
        "WITH i AS (SELECT $1::jsonb AS j)"
        " INSERT INTO interactions (interaction_id, application_id,"
        "  token, guild_id, channel_id, user_id, member_roles, command,"
        "  options)"
        " SELECT j->>'id', j->>'application_id', j->>'token',"
        "  j->>'guild_id', j->>'channel_id',"
        "  coalesce(j->'member'->'user'->>'id', j->'user'->>'id'),"
        "  coalesce(ARRAY(SELECT jsonb_array_elements_text("
        "   CASE WHEN jsonb_typeof(j->'member'->'roles') = 'array'"
        "   THEN j->'member'->'roles' ELSE '[]' END)), '{}'),"
        "  coalesce(j->'data'->>'name', j->'data'->>'custom_id',"
        "           'component'),"
        "  coalesce(j->'data', '{}')"
        " FROM i"
        " WHERE j->>'id' IS NOT NULL AND j->>'token' IS NOT NULL"
        "   AND j->>'application_id' IS NOT NULL"
        " ON CONFLICT (interaction_id) DO NOTHING"
        " RETURNING id",
        1, p);
}
