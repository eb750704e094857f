/*
 * bot — shared helpers for the rag-bot main thread (see bot.h).
 */
#include "bot.h"
#include "embed.h"

#include "rag_store_guild_config.h"

#include <errno.h>
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
    n = configured ? strlen(src) : (size_t)(host - src) + strcspn(host, "/?#");
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
    char name[128];

    if (!guild_id || !forum_id ||
        rag_store_guild_config_forum_collection(b->db, guild_id, forum_id, name,
                                                sizeof(name)) != 1)
        return NULL;
    return strdup(name);
}

int
rag_bot_is_banned(rag_bot *b, const char *guild_id, const char *user)
{
    if (!guild_id || !user)
        return 0;
    return rag_store_guild_config_is_banned(b->db, guild_id, user) == 1;
}

int
rag_bot_guild_configured(rag_bot *b, const char *guild_id)
{
    int rc = rag_store_guild_config_exists(b->db, guild_id);

    return rc < 0 ? -1 : rc == 1;
}

/* The first column of every row of r (which it clears) as a
 * NULL-terminated list. */
static char **
column_list(PGresult *r)
{
    char **v;
    int i, n;

    if (r == NULL)
        return NULL;
    n = PQntuples(r);
    v = calloc((size_t)n + 1, sizeof(*v));
    for (i = 0; v && i < n; i++)
        if ((v[i] = strdup(PQgetvalue(r, i, 0))) == NULL) {
            rag_bot_list_free(v);
            v = NULL;
        }
    PQclear(r);
    return v;
}

char **
rag_bot_configured_guilds(rag_bot *b)
{
    return column_list(rag_store_guild_config_guilds(b->db));
}

char **
rag_bot_forum_guilds(rag_bot *b)
{
    return column_list(rag_store_guild_config_forum_guilds(b->db));
}

char **
rag_bot_logging_channels(rag_bot *b)
{
    /* each guild's notice comes from the process owning its shard */
    return column_list(
        rag_store_guild_config_logging_channels(b->db, b->worker_id));
}

void
rag_bot_list_free(char **list)
{
    size_t i;

    for (i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

int
rag_bot_is_mod(rag_bot *b, const char *guild_id, yajl_val roles)
{
    char mod[64];
    size_t i;

    if (!guild_id || !roles || !YAJL_IS_ARRAY(roles) ||
        rag_store_guild_config_mod_role(b->db, guild_id, mod, sizeof(mod)) != 1)
        return 0;
    for (i = 0; i < roles->u.array.len; i++) {
        yajl_val v = roles->u.array.values[i];
        if (YAJL_IS_STRING(v) && strcmp(v->u.string, mod) == 0)
            return 1;
    }
    return 0;
}

void
rag_bot_url_encode(rag_buf *b, const char *s)
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
rag_bot_post_embed(rag_bot *b, const char *channel, const char *title,
                   const char *text, int color)
{
    rag_buf body, path;
    int rc = -1;

    rag_buf_init(&body, 64 * 1024);
    rag_buf_init(&path, 256);
    if (rag_buf_printf(&path, "/channels/%s/messages", channel) == 0 &&
        rag_embed_simple(&body, title, text, color) == 0)
        rc = rag_rest_submit(b->rest, "POST", path.data, body.data, NULL, NULL);
    rag_buf_free(&body);
    rag_buf_free(&path);
    return rc;
}

int
rag_bot_guild_shard(const char *guild_id, int count)
{
    size_t n = guild_id ? strlen(guild_id) : 0;
    unsigned long long id;

    if (count <= 1 || n == 0 || n > 20 || strspn(guild_id, "0123456789") != n)
        return 0;
    errno = 0;
    id = strtoull(guild_id, NULL, 10);
    if (errno != 0)
        return 0;
    return (int)((id >> 22) % (unsigned)count);
}

int
rag_bot_owns_guild(const rag_bot *b, const char *guild_id)
{
    int s = rag_bot_guild_shard(guild_id, b->shard_count), i;

    if (b->shard_count <= 1)
        return b->nshards > 0; /* a standby runs none until it takes one */
    for (i = 0; i < b->nshards; i++)
        if (b->shards[i] == s)
            return 1;
    return 0;
}

int
rag_bot_parse_shards(const char *list, int count, int *out, int max)
{
    const char *p = list;
    char *end;
    int n = 0, i;
    long v;

    if (count < 1)
        return -1;
    if (list == NULL || *list == '\0') {
        if (count > max)
            return -1;
        for (i = 0; i < count; i++)
            out[i] = i;
        return count;
    }
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        errno = 0;
        v = strtol(p, &end, 10);
        if (end == p || errno != 0 || v < 0 || v >= count || n >= max)
            return -1;
        for (i = 0; i < n; i++)
            if (out[i] == (int)v)
                return -1;
        out[n++] = (int)v;
        p = end;
        if (*p && *p != ',' && *p != ' ')
            return -1;
    }
    return n > 0 ? n : -1;
}
