#include "rag_store_guild_config.h"

#include "rag_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_store_guild_config_answering(PGconn *db, const char *guild_id,
                                 char *role_id, size_t role_len,
                                 double *threshold)
{
    const char *p[1] = {guild_id};
    PGresult *r;
    int rc;

    r = rag_db_query(db,
                     "SELECT coalesce(helper_role_id, mod_role_id, ''),"
                     " coalesce(answer_threshold::text, '')"
                     " FROM guild_config WHERE guild_id = $1",
                     1, p);
    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    if (rc) {
        snprintf(role_id, role_len, "%s", PQgetvalue(r, 0, 0));
        if (*PQgetvalue(r, 0, 1))
            *threshold = atof(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return rc;
}

int
rag_store_guild_config_map_forum(PGconn *db, const char *guild_id,
                                 const char *forum_id, const char *collection)
{
    const char *p[3] = {guild_id, forum_id, collection};

    if (rag_db_begin(db) != 0)
        return -1;
    if (rag_db_exec(db,
                    "INSERT INTO guild_config (guild_id) VALUES ($1)"
                    " ON CONFLICT DO NOTHING",
                    1, p) != 0 ||
        rag_db_exec(db,
                    "INSERT INTO guild_forums (guild_id, forum_channel_id,"
                    " collection) VALUES ($1, $2, $3)"
                    " ON CONFLICT (guild_id, forum_channel_id)"
                    " DO UPDATE SET collection = EXCLUDED.collection",
                    3, p) != 0 ||
        rag_db_commit(db) != 0) {
        rag_db_rollback(db);
        return -1;
    }
    return 0;
}

PGresult *
rag_store_guild_config_forums(PGconn *db)
{
    return rag_db_query(db,
                        "SELECT guild_id, forum_channel_id, collection"
                        " FROM guild_forums ORDER BY 1, 2",
                        0, NULL);
}

/* The first value of a one-row answer into out. 1 copied, 0 no row (or
 * it does not fit), -1 error. */
static int
one_value(PGresult *r, char *out, size_t outlen)
{
    int rc;

    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1 && (size_t)PQgetlength(r, 0, 0) < outlen;
    if (rc)
        memcpy(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0) + 1);
    PQclear(r);
    return rc;
}

int
rag_store_guild_config_forum_collection(PGconn *db, const char *guild_id,
                                        const char *forum_id, char *out,
                                        size_t outlen)
{
    const char *p[2] = {guild_id, forum_id};

    return one_value(rag_db_query(db,
                                  "SELECT collection FROM guild_forums"
                                  " WHERE guild_id = $1"
                                  " AND forum_channel_id = $2",
                                  2, p),
                     out, outlen);
}

int
rag_store_guild_config_is_banned(PGconn *db, const char *guild_id,
                                 const char *user_id)
{
    const char *p[2] = {guild_id, user_id};

    return rag_db_count(db,
                        "SELECT 1 FROM guild_config WHERE guild_id = $1"
                        " AND $2 = ANY (banned_user_ids)",
                        2, p);
}

int
rag_store_guild_config_exists(PGconn *db, const char *guild_id)
{
    const char *p[1] = {guild_id};

    return rag_db_count(db, "SELECT 1 FROM guild_config WHERE guild_id = $1", 1,
                        p);
}

int
rag_store_guild_config_mod_role(PGconn *db, const char *guild_id, char *out,
                                size_t outlen)
{
    const char *p[1] = {guild_id};

    return one_value(rag_db_query(db,
                                  "SELECT mod_role_id FROM guild_config"
                                  " WHERE guild_id = $1"
                                  " AND mod_role_id IS NOT NULL",
                                  1, p),
                     out, outlen);
}

PGresult *
rag_store_guild_config_guilds(PGconn *db)
{
    return rag_db_query(db, "SELECT guild_id FROM guild_config ORDER BY 1", 0,
                        NULL);
}

PGresult *
rag_store_guild_config_forum_guilds(PGconn *db)
{
    return rag_db_query(db,
                        "SELECT DISTINCT guild_id FROM guild_forums"
                        " ORDER BY 1",
                        0, NULL);
}

PGresult *
rag_store_guild_config_logging_channels(PGconn *db, const char *worker_id)
{
    const char *p[1] = {worker_id};

    return rag_db_query(db,
                        "SELECT DISTINCT logging_channel_id FROM guild_config"
                        " WHERE logging_channel_id IS NOT NULL"
                        " AND rag_shard_owned($1, guild_id) ORDER BY 1",
                        1, p);
}
