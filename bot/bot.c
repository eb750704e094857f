/*
 * bot — shared helpers for the rag-bot main thread (see bot.h).
 */
#include "bot.h"
#include "embed.h"

#include "rag_db.h"
#include "rag_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rag_bot_web_base(const char *conf, const char *api_base, char *out,
                 size_t outlen)
{
    int configured = conf && *conf;
    const char *src = configured ? conf : api_base, *host;
    size_t n;

    if (src == NULL || (host = strstr(src, "://")) == NULL || host == src)
        return -1;
    host += 3;
    /* a configured base is used as given; otherwise the API's origin */
    n = configured ? strlen(src)
                   : (size_t)(host - src) + strcspn(host, "/?#");
    while (n > 0 && src[n - 1] == '/')
        n--;
    if (n <= (size_t)(host - src) || n >= outlen)
        return -1;
    memcpy(out, src, n);
    out[n] = '\0';
    return 0;
}

char *
rag_bot_forum_collection(rag_bot *b, const char *guild_id, const char *forum_id)
{
    const char *p[] = {guild_id, forum_id};
    PGresult *r;
    char *c = NULL;

    if (!guild_id || !forum_id)
        return NULL;
    r = rag_db_query(b->db,
                     "SELECT collection FROM guild_forums WHERE "
                     "guild_id = $1 AND forum_channel_id = $2",
                     2, p);
    if (r && PQntuples(r) == 1)
        c = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return c;
}

int
rag_bot_is_banned(rag_bot *b, const char *guild_id, const char *user)
{
    const char *p[] = {guild_id, user};
    PGresult *r;
    int yes;

    if (!guild_id || !user)
        return 0;
    r = rag_db_query(b->db,
                     "SELECT 1 FROM guild_config WHERE guild_id = $1"
                     " AND $2 = ANY (banned_user_ids)",
                     2, p);
    yes = r && PQntuples(r) == 1;
    PQclear(r);
    return yes;
}

int
rag_bot_is_mod(rag_bot *b, const char *guild_id, yajl_val roles)
{
    const char *p[] = {guild_id};
    PGresult *r;
    const char *mod;
    size_t i;
    int yes = 0;

    if (!guild_id || !roles || !YAJL_IS_ARRAY(roles))
        return 0;
    r = rag_db_query(b->db,
                     "SELECT mod_role_id FROM guild_config WHERE "
                     "guild_id = $1 AND mod_role_id IS NOT NULL",
                     1, p);
    if (r && PQntuples(r) == 1) {
        mod = PQgetvalue(r, 0, 0);
        for (i = 0; i < roles->u.array.len; i++) {
            yajl_val v = roles->u.array.values[i];
            if (YAJL_IS_STRING(v) && strcmp(v->u.string, mod) == 0)
                yes = 1;
        }
    }
    PQclear(r);
    return yes;
}

int
rag_bot_controller_refresh(rag_bot *b, const char *thread_id)
{
    const char *p[] = {thread_id};
    PGresult *r;
    rag_controller c;
    rag_buf body, path;
    rag_rest_resp resp;
    int rc = -1;

    r = rag_db_query(
        b->db,
        "SELECT thread_controller_id, author_id, open, solved, "
        "       solved_by IS NOT NULL, "
        "       EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = "
        "               t.thread_id AND m.from_bot AND "
        "               m.discord_message_id IS NOT NULL) "
        "FROM threads t WHERE thread_id = $1",
        1, p);
    if (r == NULL || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        PQclear(r);
        return -1;
    }
    memset(&c, 0, sizeof(c));
    c.thread_id = thread_id;
    c.author_id = PQgetvalue(r, 0, 1);
    c.bot_id = b->bot_id;
    c.open = PQgetvalue(r, 0, 2)[0] == 't';
    c.solved = PQgetvalue(r, 0, 3)[0] == 't';
    c.was_solved = PQgetvalue(r, 0, 4)[0] == 't';
    c.answered = PQgetvalue(r, 0, 5)[0] == 't';
    rag_buf_init(&body, 64 * 1024);
    rag_buf_init(&path, 256);
    rag_buf_init(&resp.body, 0);
    if (rag_embed_controller_json(&body, &c) == 0 &&
        rag_buf_printf(&path, "/channels/%s/messages/%s", thread_id,
                       PQgetvalue(r, 0, 0)) == 0 &&
        rag_rest_call(b->rest, "PATCH", path.data, body.data, &resp) == 0 &&
        resp.status / 100 == 2)
        rc = 0;
    else
        rag_warn("msg=\"controller edit failed\" thread=%s", thread_id);
    rag_buf_free(&resp.body);
    rag_buf_free(&body);
    rag_buf_free(&path);
    PQclear(r);
    return rc;
}

/* Percent-encodes a UTF-8 emoji for the reactions path. */
static void
url_encode(rag_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == ':')
            rag_buf_putc(b, (char)c);
        else
            rag_buf_printf(b, "%%%02X", c);
    }
}

int
rag_bot_react(rag_bot *b, const char *channel, const char *message,
              const char *emoji)
{
    rag_buf path;
    rag_rest_resp resp;
    int rc;

    rag_buf_init(&path, 512);
    rag_buf_printf(&path, "/channels/%s/messages/%s/reactions/", channel,
                   message);
    url_encode(&path, emoji);
    rag_buf_puts(&path, "/@me");
    rc = rag_rest_call(b->rest, "PUT", path.data, NULL, &resp) == 0 &&
                 resp.status / 100 == 2
             ? 0
             : -1;
    rag_buf_free(&resp.body);
    rag_buf_free(&path);
    return rc;
}

int
rag_bot_post_embed(rag_bot *b, const char *channel, const char *title,
                   const char *text, int color, char *id_out, size_t id_len)
{
    rag_buf body, path;
    rag_rest_resp resp;
    int rc = -1;

    rag_buf_init(&body, 64 * 1024);
    rag_buf_init(&path, 256);
    rag_buf_init(&resp.body, 0);
    rag_buf_printf(&path, "/channels/%s/messages", channel);
    if (rag_embed_simple(&body, title, text, color) == 0 &&
        rag_rest_call(b->rest, "POST", path.data, body.data, &resp) == 0 &&
        resp.status / 100 == 2) {
        rc = 0;
        if (id_out) {
            yajl_val v = rag_json_parse(resp.body.data, resp.body.len);
            const char *id = rag_json_str(v, "id", NULL);
            snprintf(id_out, id_len, "%s", id ? id : "");
            if (!id)
                rc = -1;
            yajl_tree_free(v);
        }
    }
    rag_buf_free(&resp.body);
    rag_buf_free(&body);
    rag_buf_free(&path);
    return rc;
}
