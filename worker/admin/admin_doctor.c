/*
 * rag-admin doctor — checks a deployment and says what is wrong and how
 * to fix it, one line per check ("ok", "FAIL" + a "fix:" line, or "skip"
 * for a part that is not configured). Exit 0 only when nothing failed.
 *
 *   rag-admin [-c worker.conf] doctor [--bot-conf FILE] [--health-url URL]
 *       [--worker-user USER] [--nginx-user USER] [--index-dir DIR]
 *
 * Checks, in order: the database and its migrations; the index directory
 * (writable by the worker's user, readable by nginx's, judged from owner,
 * group and mode bits of the directory, its parents and its files, and a
 * read-only mount); every collection's index file against the generation
 * Postgres recorded; /rag/health through health_url; the Discord token
 * (GET /users/@me), the Message Content intent (GET /applications/@me)
 * and the bot's permissions in every mapped forum (guild roles, member
 * roles and the channel's overwrites, as Discord computes them); the LLM
 * and embeddings endpoints, and the embedding size against every index.
 * Config keys: health_url, worker_user (ngx-rag), nginx_user (www-data),
 * index_dir, and the worker's llm_* / embed_*; Discord keys from
 * --bot-conf (discord_token[_file], discord_api_base).
 */
#include "conf_tables.h"
#include "admin.h"
#include "llm.h"
#include "rag_conf.h"
#include "rag_conf_bot.h"
#include "rag_db.h"
#include "rag_embed.h"
#include "rag_http.h"
#include "rag_index.h"
#include "rag_json.h"
#include "rag_paths.h"
#include "rag_reindex.h"
#include "rag_store_collections.h"
#include "rag_store_guild_config.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define DOCTOR_MAX_GROUPS 256
#define DOCTOR_MAX_INDEXES 256
#define DOCTOR_HTTP_TIMEOUT_MS 10000

/* Discord permission bits (docs: topics/permissions). */
#define P_ADMINISTRATOR (1ull << 3)
#define P_ADD_REACTIONS (1ull << 6)
#define P_VIEW_CHANNEL (1ull << 10)
#define P_SEND_MESSAGES (1ull << 11)
#define P_EMBED_LINKS (1ull << 14)
#define P_READ_MESSAGE_HISTORY (1ull << 16)
#define P_MANAGE_THREADS (1ull << 34)
#define P_SEND_MESSAGES_IN_THREADS (1ull << 38)
/* Application flags: the Message Content intent, verified or limited. */
#define APP_GATEWAY_MESSAGE_CONTENT (1ll << 18)
#define APP_GATEWAY_MESSAGE_CONTENT_LIMITED (1ll << 19)
#define DISCORD_GUILD_FORUM 15

static const struct {
    uint64_t bit;
    const char *name;
} needed_perms[] = {
    {P_VIEW_CHANNEL, "View Channel"},
    {P_SEND_MESSAGES, "Send Messages"},
    {P_SEND_MESSAGES_IN_THREADS, "Send Messages in Threads"},
    {P_EMBED_LINKS, "Embed Links"},
    {P_ADD_REACTIONS, "Add Reactions"},
    {P_READ_MESSAGE_HISTORY, "Read Message History"},
    {P_MANAGE_THREADS, "Manage Threads"},
};

typedef struct {
    char name[65];
    uint32_t dims;
} doctor_index;

typedef struct {
    int checks, failed;
    doctor_index ix[DOCTOR_MAX_INDEXES];
    size_t nix;
} doctor;

typedef struct {
    const char *name;
    uid_t uid;
    gid_t groups[DOCTOR_MAX_GROUPS];
    int ngroups;
} doctor_user;

static void __attribute__((format(printf, 3, 4)))
ok(doctor *d, const char *what, const char *fmt, ...)
{
    va_list ap;

    d->checks++;
    printf("ok    %-12s ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void __attribute__((format(printf, 3, 4)))
skip(doctor *d, const char *what, const char *fmt, ...)
{
    va_list ap;

    printf("skip  %-12s ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* A failed check: what is wrong, then how to fix it (fix may be NULL). */
static void __attribute__((format(printf, 4, 5)))
fail(doctor *d, const char *what, const char *fix, const char *fmt, ...)
{
    va_list ap;

    d->checks++;
    d->failed++;
    printf("FAIL  %-12s ", what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (fix)
        printf("      fix: %s\n", fix);
}

/* ---- database and migrations ------------------------------------------ */

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
check_migrations(doctor *d, PGconn *db)
{
    char dirbuf[PATH_MAX], fix[PATH_MAX + 128];
    const char *dir = rag_sql_dir(dirbuf, sizeof(dirbuf));
    char *files[512];
    size_t nf = 0, pending = 0, unknown = 0;
    rag_buf list;
    struct dirent *de;
    PGresult *r = NULL;
    DIR *dh;

    rag_buf_init(&list, 2048);
    dh = opendir(dir);
    if (dh == NULL) {
        snprintf(fix, sizeof(fix),
                 "install the migrations there or set RAG_SQL_DIR (%s)",
                 strerror(errno));
        fail(d, "migrations", fix, "no migrations directory %s", dir);
        goto done;
    }
    while ((de = readdir(dh)) != NULL && nf < 512) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0 &&
            de->d_name[0] >= '0' && de->d_name[0] <= '9')
            files[nf++] = strdup(de->d_name);
    }
    closedir(dh);
    qsort(files, nf, sizeof(files[0]), cmp_name);
    rag_db_log_errors(0); /* a database without the table is reported */
    r = rag_db_migrations_applied(db);
    rag_db_log_errors(1);
    if (r == NULL) {
        fail(d, "migrations", "rag-admin migrate",
             "the database has no schema (schema_migrations missing)");
        goto done;
    }
    for (size_t i = 0; i < nf; i++) {
        int found = 0;
        for (int j = 0; j < PQntuples(r) && !found; j++)
            found = files[i] && strcmp(files[i], PQgetvalue(r, j, 0)) == 0;
        if (!found && files[i]) {
            rag_buf_printf(&list, "%s%s", pending++ ? ", " : "", files[i]);
        }
    }
    if (pending) {
        fail(d, "migrations", "rag-admin migrate (safe to re-run)",
             "%zu pending in %s: %s", pending, dir, list.data);
        goto done;
    }
    for (int j = 0; j < PQntuples(r); j++) {
        const char *v = PQgetvalue(r, j, 0);
        if (bsearch(&v, files, nf, sizeof(files[0]), cmp_name) == NULL)
            rag_buf_printf(&list, "%s%s", unknown++ ? ", " : "", v);
    }
    if (unknown)
        fail(d, "migrations",
             "upgrade ngx-rag on this machine to the version that wrote"
             " the schema",
             "the database has %zu migrations this rag-admin does not know"
             " (%s): these programs are older than the schema",
             unknown, list.data);
    else
        ok(d, "migrations", "%d applied, none pending (%s)", PQntuples(r), dir);
done:
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    PQclear(r);
    rag_buf_free(&list);
}

/* ---- users and permissions ---------------------------------------------- */

static int
user_load(doctor_user *u, const char *name)
{
    struct passwd *pw = getpwnam(name);

    memset(u, 0, sizeof(*u));
    u->name = name;
    if (pw == NULL)
        return -1;
    u->uid = pw->pw_uid;
    u->ngroups = DOCTOR_MAX_GROUPS;
    if (getgrouplist(name, pw->pw_gid, u->groups, &u->ngroups) < 0)
        u->ngroups = 1; /* at least the primary group */
    u->groups[0] = u->ngroups == 1 ? pw->pw_gid : u->groups[0];
    return 0;
}

static int
user_in_group(const doctor_user *u, gid_t g)
{
    for (int i = 0; i < u->ngroups; i++)
        if (u->groups[i] == g)
            return 1;
    return 0;
}

/* 1 when u has every bit of want (4 r, 2 w, 1 x) on st, by the kernel's
 * rule: the owner class if u owns it, else the group class if u is in
 * its group, else others. root passes. (ACLs are not evaluated.) */
static int
may(const doctor_user *u, const struct stat *st, int want)
{
    int bits;

    if (u->uid == 0)
        return 1;
    if (st->st_uid == u->uid)
        bits = (st->st_mode >> 6) & 7;
    else if (user_in_group(u, st->st_gid))
        bits = (st->st_mode >> 3) & 7;
    else
        bits = st->st_mode & 7;
    return (bits & want) == want;
}

static const char *
owner_str(const struct stat *st, char *out, size_t outlen)
{
    struct passwd *pw = getpwuid(st->st_uid);
    struct group *gr = getgrgid(st->st_gid);
    char un[32], gn[32];

    if (pw)
        snprintf(un, sizeof(un), "%s", pw->pw_name);
    else
        snprintf(un, sizeof(un), "%u", (unsigned)st->st_uid);
    if (gr)
        snprintf(gn, sizeof(gn), "%s", gr->gr_name);
    else
        snprintf(gn, sizeof(gn), "%u", (unsigned)st->st_gid);
    snprintf(out, outlen, "%04o %s:%s", (unsigned)(st->st_mode & 07777), un,
             gn);
    return out;
}

/* Every parent of path must be searchable by u. 0, or -1 after failing. */
static int
check_parents(doctor *d, const char *what, const doctor_user *u,
              const char *path)
{
    char p[PATH_MAX], fix[PATH_MAX + 64], own[96];
    struct stat st;

    snprintf(p, sizeof(p), "%s", path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (stat(p, &st) == 0 && !may(u, &st, 1)) {
            snprintf(fix, sizeof(fix), "chmod o+x %s", p);
            fail(d, what, fix, "%s cannot enter %s (%s)", u->name, p,
                 owner_str(&st, own, sizeof(own)));
            return -1;
        }
        *s = '/';
    }
    return 0;
}

static void
check_index_dir(doctor *d, const char *dir, const char *wname,
                const char *nname)
{
    char fix[PATH_MAX * 2 + 128], own[96], path[PATH_MAX];
    doctor_user w, n;
    struct statvfs vfs;
    struct stat st, fst;
    struct dirent *de;
    int bad = 0, files = 0;
    DIR *dh;

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        const char *why = S_ISDIR(st.st_mode) || errno != 0 ? strerror(errno)
                                                            : "not a directory";
        snprintf(fix, sizeof(fix),
                 "install -d -o %s -g %s -m 2750 %s (the ngx-rag package"
                 " makes it)",
                 wname, nname, dir);
        fail(d, "index dir", fix, "%s: %s", dir, why);
        return;
    }
    if (user_load(&w, wname) != 0) {
        fail(d, "index dir",
             "create it (adduser --system --group ngx-rag) or name the"
             " worker's user with --worker-user / worker_user",
             "the worker's user %s does not exist", wname);
        return;
    }
    if (user_load(&n, nname) != 0) {
        fail(d, "index dir",
             "name nginx's worker user (the `user` directive of nginx.conf)"
             " with --nginx-user / nginx_user",
             "nginx's user %s does not exist", nname);
        return;
    }
    bad = check_parents(d, "index dir", &w, dir) != 0;
    if (check_parents(d, "index dir", &n, dir) != 0 || bad)
        return;
    if (!may(&w, &st, 2 | 1)) {
        if (st.st_uid != w.uid)
            snprintf(fix, sizeof(fix), "chown %s %s && chmod u+rwx %s", wname,
                     dir, dir);
        else
            snprintf(fix, sizeof(fix), "chmod u+rwx %s", dir);
        fail(d, "index dir", fix, "the worker's user %s cannot write %s (%s)",
             wname, dir, owner_str(&st, own, sizeof(own)));
        bad = 1;
    } else if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) {
        fail(d, "index dir",
             "mount it read-write (systemd units: ReadWritePaths=)",
             "%s is on a read-only filesystem", dir);
        bad = 1;
    }
    if (!may(&n, &st, 4 | 1)) {
        if (!user_in_group(&n, st.st_gid) && st.st_uid != n.uid)
            snprintf(fix, sizeof(fix), "chgrp %s %s && chmod g+rxs %s", nname,
                     dir, dir);
        else
            snprintf(fix, sizeof(fix), "chmod g+rx %s", dir);
        fail(d, "index dir", fix, "nginx's user %s cannot read %s (%s)", nname,
             dir, owner_str(&st, own, sizeof(own)));
        return;
    }
    dh = opendir(dir);
    while (dh && (de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".idx") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &fst) != 0)
            continue;
        files++;
        if (!may(&n, &fst, 4)) {
            snprintf(fix, sizeof(fix),
                     "chgrp %s %s/*.idx && chmod g+r %s/*.idx && chmod g+s"
                     " %s (new files then get that group)",
                     nname, dir, dir, dir);
            fail(d, "index dir", fix, "nginx's user %s cannot read %s (%s)",
                 nname, path, owner_str(&fst, own, sizeof(own)));
            bad = 1;
            break;
        }
    }
    if (dh)
        closedir(dh);
    if (!bad)
        ok(d, "index dir",
           "%s (%s): writable by %s, readable by %s, %d index files", dir,
           owner_str(&st, own, sizeof(own)), wname, nname, files);
}

/* ---- index files against recorded generations ---------------------------- */

static void
check_indexes(doctor *d, PGconn *db, const char *dir)
{
    char path[PATH_MAX], err[256], fix[512];
    PGresult *r;
    int bad = 0, n = 0;

    r = rag_store_collections_index_state(db);
    if (r == NULL) {
        fail(d, "indexes", "rag-admin migrate", "cannot read collections: %s",
             rag_db_last_error()->message);
        return;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);
        uint64_t gen = strtoull(PQgetvalue(r, i, 1), NULL, 10);
        int has_docs = PQgetvalue(r, i, 2)[0] == 't';
        rag_index *ix;

        snprintf(fix, sizeof(fix),
                 "rag-reindex %s (on an nginx machine that follows:"
                 " systemctl restart rag-follow)",
                 name);
        if (gen == 0) {
            if (has_docs) {
                fail(d, "indexes", fix,
                     "collection %s has documents but was never indexed", name);
                bad = 1;
            }
            continue;
        }
        if (rag_index_path(path, sizeof(path), dir, name) != 0)
            continue;
        ix = rag_index_open(path, err, sizeof(err));
        if (ix == NULL) {
            fail(d, "indexes", fix,
                 "collection %s: Postgres records generation %" PRIu64
                 " but %s %s",
                 name, gen, path, errno == ENOENT ? "does not exist" : err);
            bad = 1;
            continue;
        }
        if (rag_index_generation(ix) != gen) {
            fail(d, "indexes", fix,
                 "collection %s: %s has generation %" PRIu64
                 ", Postgres records %" PRIu64,
                 name, path, rag_index_generation(ix), gen);
            bad = 1;
        } else if (d->nix < DOCTOR_MAX_INDEXES) {
            snprintf(d->ix[d->nix].name, sizeof(d->ix[0].name), "%s", name);
            d->ix[d->nix++].dims = rag_index_dims(ix);
        }
        n++;
        rag_index_close(ix);
    }
    PQclear(r);
    if (!bad)
        ok(d, "indexes", "%d collections indexed at the recorded generation",
           n);
}

/* ---- /rag/health ------------------------------------------------------------
 */

static void
check_health(doctor *d, const char *url)
{
    rag_http_req req;
    rag_http_resp resp;
    yajl_val v = NULL;
    const char *st, *dbs;

    if (url == NULL || *url == '\0') {
        fail(d, "health",
             "set health_url = https://YOUR.HOST/rag/health in the config or"
             " pass --health-url",
             "no health_url: cannot check nginx and the module");
        return;
    }
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.timeout_ms = DOCTOR_HTTP_TIMEOUT_MS;
    req.max_response = 1u << 20;
    if (rag_http_do(&req, &resp) != 0) {
        fail(d, "health",
             "start nginx (systemctl start nginx) and check that the URL's"
             " host and port are the ones nginx listens on",
             "%s: %s", url, resp.error);
        goto done;
    }
    v = rag_json_parse(resp.body.data ? resp.body.data : "", resp.body.len);
    st = rag_json_str(v, "status", NULL);
    dbs = rag_json_str(v, "database", NULL);
    if (st == NULL) {
        fail(d, "health",
             "point health_url at a location with `rag_health;` and enable"
             " the module (/etc/nginx/modules-enabled/50-mod-http-rag.conf)",
             "%s answered HTTP %ld without ngx_rag's health JSON", url,
             resp.status);
    } else if (resp.status != 200 || strcmp(st, "ok") != 0) {
        fail(d, "health",
             dbs && strcmp(dbs, "ok") != 0
                 ? "nginx cannot reach Postgres: check rag_database in"
                   " nginx.conf and that nginx's user may connect"
                 : "see nginx's error.log",
             "%s answered HTTP %ld, status %s, database %s", url, resp.status,
             st, dbs ? dbs : "?");
    } else {
        ok(d, "health", "%s: status ok, database %s", url, dbs ? dbs : "?");
    }
done:
    yajl_tree_free(v);
    rag_buf_free(&resp.body);
}

/* ---- Discord --------------------------------------------------------------
 */

typedef struct {
    const char *base;
    char auth[512];
} discord;

/* GET base+path; the parsed body in *out (NULL if not JSON). Returns the
 * HTTP status, 0 on transport failure (err filled). */
static long
discord_get(const discord *dc, const char *path, yajl_val *out, char *err,
            size_t errlen)
{
    char url[1024];
    const char *hdrs[3];
    rag_http_req req;
    rag_http_resp resp;
    long status;

    *out = NULL;
    snprintf(url, sizeof(url), "%s%s", dc->base, path);
    hdrs[0] = dc->auth;
    hdrs[1] = "User-Agent: DiscordBot (https://github.com/ngx_rag, 0.1)";
    hdrs[2] = NULL;
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.headers = hdrs;
    req.timeout_ms = DOCTOR_HTTP_TIMEOUT_MS;
    req.max_retries = 1; /* one 429 honoured with its Retry-After */
    req.max_response = 2u << 20;
    if (rag_http_do(&req, &resp) != 0) {
        snprintf(err, errlen, "%s", resp.error);
        rag_buf_free(&resp.body);
        return 0;
    }
    status = resp.status;
    *out = rag_json_parse(resp.body.data ? resp.body.data : "", resp.body.len);
    snprintf(err, errlen, "%s",
             rag_json_str(*out, "message", NULL)
                 ? rag_json_str(*out, "message", NULL)
                 : "");
    rag_buf_free(&resp.body);
    return status;
}

static uint64_t
perm_of(yajl_val v, const char *key)
{
    const char *s = rag_json_str(v, key, NULL);

    return s ? strtoull(s, NULL, 10) : 0;
}

/* 1 when id is among the member's role ids. */
static int
has_role(yajl_val mroles, const char *id)
{
    for (size_t j = 0; YAJL_IS_ARRAY(mroles) && j < mroles->u.array.len; j++) {
        const char *s = YAJL_IS_STRING(mroles->u.array.values[j])
                            ? YAJL_GET_STRING(mroles->u.array.values[j])
                            : NULL;
        if (s && strcmp(s, id) == 0)
            return 1;
    }
    return 0;
}

/* The bot's permissions in channel ch of guild g (member m), the way
 * Discord computes them: @everyone and the member's roles, owner and
 * Administrator pass everything, then the channel's @everyone, role and
 * member overwrites in that order. */
static uint64_t
compute_perms(yajl_val g, yajl_val m, yajl_val ch, const char *guild_id,
              const char *bot_id)
{
    yajl_val roles = rag_json_get(g, "roles", NULL);
    yajl_val mroles = rag_json_get(m, "roles", NULL);
    yajl_val ow = rag_json_get(ch, "permission_overwrites", NULL);
    const char *owner = rag_json_str(g, "owner_id", NULL);
    uint64_t perms = 0, allow = 0, deny = 0;

    if (owner && strcmp(owner, bot_id) == 0)
        return ~0ull;
    for (size_t i = 0; YAJL_IS_ARRAY(roles) && i < roles->u.array.len; i++) {
        yajl_val r = roles->u.array.values[i];
        const char *id = rag_json_str(r, "id", NULL);
        if (id && (strcmp(id, guild_id) == 0 || has_role(mroles, id)))
            perms |= perm_of(r, "permissions");
    }
    if (perms & P_ADMINISTRATOR)
        return ~0ull;
    /* @everyone overwrite first, then roles together, then the member */
    for (int pass = 0; pass < 3; pass++) {
        allow = deny = 0;
        for (size_t i = 0; YAJL_IS_ARRAY(ow) && i < ow->u.array.len; i++) {
            yajl_val o = ow->u.array.values[i];
            const char *id = rag_json_str(o, "id", NULL);
            long long type = rag_json_int(o, -1, "type", NULL);
            int match = 0;
            if (id == NULL)
                continue;
            if (pass == 0)
                match = type == 0 && strcmp(id, guild_id) == 0;
            else if (pass == 1)
                match = type == 0 && strcmp(id, guild_id) != 0 &&
                        has_role(mroles, id);
            else if (pass == 2)
                match = type == 1 && strcmp(id, bot_id) == 0;
            if (match) {
                allow |= perm_of(o, "allow");
                deny |= perm_of(o, "deny");
            }
        }
        perms = (perms & ~deny) | allow;
    }
    return perms;
}

static uint64_t
needed_mask(void)
{
    uint64_t m = 0;

    for (size_t i = 0; i < sizeof(needed_perms) / sizeof(needed_perms[0]); i++)
        m |= needed_perms[i].bit;
    return m;
}

static void
check_forum(doctor *d, const discord *dc, const char *guild, const char *forum,
            const char *bot_id, const char *app_id)
{
    char path[256], err[256], fix[768], what[64];
    yajl_val g = NULL, m = NULL, ch = NULL;
    rag_buf missing;
    uint64_t perms;
    long st;

    rag_buf_init(&missing, 512);
    snprintf(what, sizeof(what), "discord");
    snprintf(fix, sizeof(fix),
             "invite the bot: https://discord.com/oauth2/authorize?client_id="
             "%s&scope=bot+applications.commands&permissions=%" PRIu64,
             app_id, needed_mask());
    snprintf(path, sizeof(path), "/guilds/%s", guild);
    st = discord_get(dc, path, &g, err, sizeof(err));
    if (st != 200) {
        fail(d, what, fix, "guild %s: the bot cannot see it (HTTP %ld %s)",
             guild, st, err);
        goto done;
    }
    snprintf(path, sizeof(path), "/guilds/%s/members/%s", guild, bot_id);
    st = discord_get(dc, path, &m, err, sizeof(err));
    if (st != 200) {
        fail(d, what, fix, "guild %s: the bot is not a member (HTTP %ld %s)",
             guild, st, err);
        goto done;
    }
    snprintf(path, sizeof(path), "/channels/%s", forum);
    st = discord_get(dc, path, &ch, err, sizeof(err));
    if (st != 200) {
        fail(d, what,
             "check the id (rag-admin forum-add GUILD FORUM COLLECTION) and"
             " give the bot's role View Channel on it",
             "forum %s in guild %s: not visible to the bot (HTTP %ld %s)",
             forum, guild, st, err);
        goto done;
    }
    if (rag_json_int(ch, -1, "type", NULL) != DISCORD_GUILD_FORUM ||
        !rag_json_str(ch, "guild_id", NULL) ||
        strcmp(rag_json_str(ch, "guild_id", NULL), guild) != 0) {
        fail(d, what,
             "map the forum channel itself: rag-admin forum-add GUILD"
             " FORUM_CHANNEL COLLECTION",
             "channel %s is not a forum of guild %s (type %lld, guild %s)",
             forum, guild, rag_json_int(ch, -1, "type", NULL),
             rag_json_str(ch, "guild_id", NULL)
                 ? rag_json_str(ch, "guild_id", NULL)
                 : "?");
        goto done;
    }
    perms = compute_perms(g, m, ch, guild, bot_id);
    for (size_t i = 0; i < sizeof(needed_perms) / sizeof(needed_perms[0]); i++)
        if (!(perms & needed_perms[i].bit))
            rag_buf_printf(&missing, "%s%s", missing.len ? ", " : "",
                           needed_perms[i].name);
    if (missing.len) {
        snprintf(fix, sizeof(fix),
                 "in Discord: Edit Channel #%s > Permissions, allow them for"
                 " the bot's role (or the server-wide role)",
                 rag_json_str(ch, "name", NULL) ? rag_json_str(ch, "name", NULL)
                                                : forum);
        fail(d, what, fix, "forum %s (#%s) in guild %s: the bot lacks %s",
             forum,
             rag_json_str(ch, "name", NULL) ? rag_json_str(ch, "name", NULL)
                                            : "?",
             guild, missing.data);
    } else {
        ok(d, what, "forum %s (#%s) in guild %s: all needed permissions", forum,
           rag_json_str(ch, "name", NULL) ? rag_json_str(ch, "name", NULL)
                                          : "?",
           guild);
    }
done:
    yajl_tree_free(g);
    yajl_tree_free(m);
    yajl_tree_free(ch);
    rag_buf_free(&missing);
}

static void
check_discord(doctor *d, PGconn *db, rag_conf *bot)
{
    const char *token = rag_conf_str(bot, &rag_conf_bot, "discord_token");
    char err[256], bot_id[32], app_id[32];
    yajl_val v = NULL;
    PGresult *r = NULL;
    discord dc;
    long long flags;
    long st;
    int nforums = -1;

    if (db) {
        r = rag_store_guild_config_forums(db);
        nforums = r ? PQntuples(r) : -1;
    }
    if (token == NULL || *token == '\0') {
        if (nforums > 0)
            fail(d, "discord",
                 "pass --bot-conf /etc/ngx_rag/bot.conf (discord_token_file)",
                 "%d forums are mapped but no Discord token is configured",
                 nforums);
        else
            skip(d, "discord", "no token configured and no forum mapped");
        goto done;
    }
    dc.base = rag_conf_str(bot, &rag_conf_bot, "discord_api_base");
    snprintf(dc.auth, sizeof(dc.auth), "Authorization: Bot %s", token);
    st = discord_get(&dc, "/users/@me", &v, err, sizeof(err));
    if (st != 200) {
        fail(d, "discord",
             st == 401 ? "Developer Portal > your app > Bot > Reset Token, put"
                         " it in discord_token_file"
                       : "check discord_api_base and this machine's"
                         " network",
             "GET /users/@me: %s (HTTP %ld)",
             st == 401 ? "the token is invalid" : err, st);
        goto done;
    }
    snprintf(bot_id, sizeof(bot_id), "%s",
             rag_json_str(v, "id", NULL) ? rag_json_str(v, "id", NULL) : "");
    ok(d, "discord", "token valid: bot %s (%s)",
       rag_json_str(v, "username", NULL) ? rag_json_str(v, "username", NULL)
                                         : "?",
       bot_id);
    yajl_tree_free(v);
    st = discord_get(&dc, "/applications/@me", &v, err, sizeof(err));
    if (st != 200) {
        fail(d, "discord", "check the token's application",
             "GET /applications/@me: HTTP %ld %s", st, err);
        goto done;
    }
    snprintf(app_id, sizeof(app_id), "%s",
             rag_json_str(v, "id", NULL) ? rag_json_str(v, "id", NULL) : "");
    flags = rag_json_int(v, 0, "flags", NULL);
    if (!(flags &
          (APP_GATEWAY_MESSAGE_CONTENT | APP_GATEWAY_MESSAGE_CONTENT_LIMITED)))
        fail(d, "discord",
             "Developer Portal > your app > Bot > Privileged Gateway Intents:"
             " enable Message Content Intent",
             "the Message Content intent is not enabled (the gateway would"
             " close with 4014, and posts would arrive empty)");
    else
        ok(d, "discord", "intents: Message Content enabled");
    for (int i = 0; r && i < PQntuples(r); i++)
        check_forum(d, &dc, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), bot_id,
                    app_id);
done:
    yajl_tree_free(v);
    PQclear(r);
}

/* ---- LLM and embeddings ------------------------------------------------- */

/* How to fix a failed API call, from rag_http's error text. */
static void
api_fix(const char *err, const char *keyname, char *fix, size_t fixlen)
{
    if (strstr(err, "HTTP 401") || strstr(err, "HTTP 403"))
        snprintf(fix, fixlen, "the API key is refused: check %s", keyname);
    else if (strstr(err, "HTTP 404"))
        snprintf(fix, fixlen,
                 "wrong base URL or model (the base URL ends in /v1)");
    else
        snprintf(fix, fixlen,
                 "check the base URL, that the service runs and that this"
                 " machine can reach it");
}

static void
check_llm(doctor *d, rag_conf *conf)
{
    rag_llm_conf lc;
    rag_llm_msg msg = {"user", "Reply with the word ok."};
    rag_buf out;
    char err[512], fix[256];

    rag_llm_conf_load(&lc, conf);
    if (!rag_llm_enabled(&lc)) {
        skip(d, "llm", "llm_base_url not set: answers are extractive");
        return;
    }
    lc.max_tokens = 5;
    lc.timeout_ms = DOCTOR_HTTP_TIMEOUT_MS;
    lc.max_retries = 0;
    rag_buf_init(&out, 1u << 16);
    if (rag_llm_chat(&lc, &msg, 1, &out, err, sizeof(err)) != RAG_LLM_OK) {
        api_fix(err, "llm_api_key_file", fix, sizeof(fix));
        fail(d, "llm", fix, "%s (model %s): %s", lc.base_url, lc.model, err);
    } else {
        ok(d, "llm", "%s answers with model %s", lc.base_url, lc.model);
    }
    rag_buf_free(&out);
}

static void
check_embed(doctor *d, rag_conf *conf)
{
    const char *text = "doctor";
    rag_embed_conf ec;
    char err[512], fix[512];
    float *vec = NULL;
    uint32_t dims = 0;
    int bad = 0, with_vectors = 0;

    for (size_t i = 0; i < d->nix; i++)
        with_vectors += d->ix[i].dims > 0;
    rag_embed_conf_load(&ec, conf);
    if (!rag_embed_enabled(&ec)) {
        if (with_vectors)
            fail(d, "embeddings",
                 "set embed_base_url (and embed_model) to the endpoint the"
                 " indexes were built with",
                 "%d indexes hold vectors but embed_base_url is not set:"
                 " answers would use BM25 only",
                 with_vectors);
        else
            skip(d, "embeddings", "embed_base_url not set: BM25 search only");
        return;
    }
    ec.timeout_ms = DOCTOR_HTTP_TIMEOUT_MS;
    ec.max_retries = 0;
    if (rag_embed(&ec, &text, 1, &vec, &dims, err, sizeof(err)) != 0) {
        api_fix(err, "embed_api_key_file", fix, sizeof(fix));
        fail(d, "embeddings", fix, "%s (model %s): %s", ec.base_url, ec.model,
             err);
        return;
    }
    free(vec);
    for (size_t i = 0; i < d->nix; i++) {
        if (d->ix[i].dims == 0 || d->ix[i].dims == dims)
            continue;
        snprintf(fix, sizeof(fix),
                 "set embed_model / embed_dimensions = %u to match the index,"
                 " or re-embed it with the new model: UPDATE chunks SET"
                 " embedding = NULL ... then rag-ingest --collection %s"
                 " --rechunk",
                 d->ix[i].dims, d->ix[i].name);
        fail(d, "embeddings", fix,
             "%s returns %u dimensions but index %s holds %u", ec.base_url,
             dims, d->ix[i].name, d->ix[i].dims);
        bad = 1;
    }
    if (!bad)
        ok(d, "embeddings", "%s answers (model %s, %u dimensions%s)",
           ec.base_url, ec.model, dims, with_vectors ? ", as the indexes" : "");
}

/* ---- command ------------------------------------------------------------- */

int
admin_doctor(rag_conf *conf, int argc, char **argv)
{
    const char *bot_path = NULL, *health = NULL, *wuser = NULL, *nuser = NULL,
               *dir = NULL;
    char err[512];
    rag_conf *bot = NULL;
    PGconn *db = NULL;
    doctor *d;
    int rc;

    for (int i = 0; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--bot-conf") == 0)
            dst = &bot_path;
        else if (strcmp(argv[i], "--health-url") == 0)
            dst = &health;
        else if (strcmp(argv[i], "--worker-user") == 0)
            dst = &wuser;
        else if (strcmp(argv[i], "--nginx-user") == 0)
            dst = &nuser;
        else if (strcmp(argv[i], "--index-dir") == 0)
            dst = &dir;
        if (dst == NULL || i + 1 >= argc) {
            fprintf(stderr,
                    "usage: rag-admin [-c FILE] doctor [--bot-conf FILE]"
                    " [--health-url URL] [--worker-user USER]"
                    " [--nginx-user USER] [--index-dir DIR]\n");
            return 2;
        }
        *dst = argv[++i];
    }
    if (bot_path) {
        bot = rag_conf_load(bot_path, err, sizeof(err));
        if (bot == NULL) {
            fprintf(stderr, "rag-admin doctor: %s\n", err);
            return 2;
        }
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        rag_conf_free(bot);
        return 1;
    }
    rag_http_global_init();
    if (health == NULL)
        health = rag_conf_str(conf, &rag_conf_admin_own, "health_url");
    if (wuser == NULL)
        wuser = rag_conf_str(conf, &rag_conf_admin_own, "worker_user");
    if (nuser == NULL)
        nuser = rag_conf_str(conf, &rag_conf_admin_own, "nginx_user");
    if (dir == NULL)
        dir = admin_index_dir(conf);

    db = rag_db_connect(rag_conf_database(conf), "rag-admin doctor", err,
                        sizeof(err));
    if (db == NULL) {
        fail(d, "database",
             "check database_url in the config (or RAG_DATABASE_URL), that"
             " PostgreSQL runs, and that pg_hba.conf lets this user in",
             "cannot connect: %s", err);
    } else {
        ok(d, "database", "connected to %s as %s (PostgreSQL %d)", PQdb(db),
           PQuser(db), PQserverVersion(db));
        check_migrations(d, db);
    }
    check_index_dir(d, dir, wuser, nuser);
    if (db)
        check_indexes(d, db, dir);
    check_health(d, health);
    check_discord(d, db, bot ? bot : conf);
    check_llm(d, conf);
    check_embed(d, conf);
    printf("doctor: %d checks, %d failed\n", d->checks, d->failed);
    rc = d->failed ? 1 : 0;
    if (db)
        PQfinish(db);
    rag_conf_free(bot);
    free(d);
    return rc;
}
