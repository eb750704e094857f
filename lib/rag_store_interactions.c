/*
 * rag_store_interactions — the interactions table and the command sets (see
 * rag_store_interactions.h).
 */
#include "rag_store_interactions.h"

#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_store_interactions_expire(PGconn *db)
{
    return rag_db_count(
        db,
        "UPDATE interactions SET state = 'failed', "
        "last_error = 'token expired' WHERE state IN ('queued', "
        "'running') AND created_at < now() - interval '15 min' "
        "RETURNING 1",
        0, NULL);
}

static void
copy(char *dst, size_t len, PGresult *r, int row, int col)
{
    snprintf(dst, len, "%s",
             PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int
rag_store_interactions_claim(PGconn *db, const char *owner, long lease_s,
                             int max, rag_interaction **out)
{
    char lease[32], lim[16];
    const char *p[] = {lease, lim, owner};
    PGresult *r;
    int i, n;

    *out = NULL;
    snprintf(lease, sizeof(lease), "%ld", lease_s > 0 ? lease_s : 60);
    snprintf(lim, sizeof(lim), "%d", max > 0 ? max : 1);
    r = rag_db_query(
        db,
        "WITH c AS (SELECT id FROM interactions WHERE (state = 'queued' OR "
        "  (state = 'running' AND lease_until < now())) "
        "  AND rag_shard_owned($3, guild_id) ORDER BY id "
        "  LIMIT $2::int FOR UPDATE SKIP LOCKED) "
        "UPDATE interactions i SET state = 'running', "
        "  lease_until = now() + make_interval(secs => $1::int) "
        "FROM c WHERE i.id = c.id "
        "RETURNING i.id, i.interaction_id, i.application_id, i.token, "
        "  i.guild_id, i.channel_id, i.user_id, "
        "  array_to_json(i.member_roles)::text, i.command, "
        "  i.options::text",
        3, p);
    if (r == NULL)
        return -1;
    n = PQntuples(r);
    if (n > 0 && (*out = calloc((size_t)n, sizeof(**out))) == NULL) {
        PQclear(r);
        return -1;
    }
    for (i = 0; i < n; i++) {
        rag_interaction *x = &(*out)[i];
        x->id = atoll(PQgetvalue(r, i, 0));
        copy(x->interaction_id, sizeof(x->interaction_id), r, i, 1);
        copy(x->application_id, sizeof(x->application_id), r, i, 2);
        copy(x->guild_id, sizeof(x->guild_id), r, i, 4);
        copy(x->channel_id, sizeof(x->channel_id), r, i, 5);
        copy(x->user_id, sizeof(x->user_id), r, i, 6);
        copy(x->command, sizeof(x->command), r, i, 8);
        x->token = strdup(PQgetvalue(r, i, 3));
        x->roles_json = strdup(PQgetvalue(r, i, 7));
        x->options_json = strdup(PQgetvalue(r, i, 9));
        if (!x->token || !x->roles_json || !x->options_json) {
            rag_store_interactions_free(*out, i + 1);
            *out = NULL;
            PQclear(r);
            return -1; /* the leases run out */
        }
    }
    PQclear(r);
    return n;
}

void
rag_store_interactions_free(rag_interaction *v, int n)
{
    int i;

    for (i = 0; v && i < n; i++) {
        free(v[i].token);
        free(v[i].roles_json);
        free(v[i].options_json);
    }
    free(v);
}

int
rag_store_interactions_done(PGconn *db, long long id)
{
    char ids[32];
    const char *p[] = {ids};

    snprintf(ids, sizeof(ids), "%lld", id);
    return rag_db_exec(db,
                       "UPDATE interactions SET state = 'done', "
                       "lease_until = NULL WHERE id = $1::bigint",
                       1, p);
}

int
rag_store_interactions_failed(PGconn *db, long long id, const char *why)
{
    char ids[32];
    const char *p[] = {ids, why};

    snprintf(ids, sizeof(ids), "%lld", id);
    return rag_db_exec(db,
                       "UPDATE interactions SET state = 'failed', "
                       "lease_until = NULL, last_error = $2 "
                       "WHERE id = $1::bigint",
                       2, p);
}

int
rag_store_interactions_commands_current(PGconn *db, const char *scope,
                                        const char *application_id,
                                        const char *hash)
{
    const char *p[] = {scope, application_id, hash};

    return rag_db_count(
        db,
        "SELECT 1 FROM command_registrations WHERE scope = $1 AND "
        "application_id = $2 AND commands_hash = $3",
        3, p);
}

int
rag_store_interactions_commands_registered(PGconn *db, const char *scope,
                                           const char *application_id,
                                           const char *hash)
{
    const char *p[] = {scope, application_id, hash};

    return rag_db_exec(
        db,
        "INSERT INTO command_registrations (scope, application_id, "
        "commands_hash) VALUES ($1, $2, $3) ON CONFLICT (scope) DO UPDATE "
        "SET application_id = EXCLUDED.application_id, "
        "commands_hash = EXCLUDED.commands_hash, registered_at = now()",
        3, p);
}

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
