#include "rag_conf_bot.h"

#include <string.h>

#define DAY_MS (86400.0 * 1000)

/* scheme://host...: what a link to Discord can be built from */
static const char *
check_url(const char *v)
{
    const char *host = strstr(v, "://");

    return *v == '\0' || (host && host > v && host[3] && host[3] != '/')
               ? NULL
               : "not an absolute URL (scheme://host/...)";
}

static const char *
check_ws_url(const char *v)
{
    return *v == '\0' || (strncmp(v, "wss://", 6) == 0 && v[6]) ||
                   (strncmp(v, "ws://", 5) == 0 && v[5])
               ? NULL
               : "must be a ws:// or wss:// URL";
}

/* Only the form here: whether each id is below shard_count is checked
 * against that key once both are read. */
static const char *
check_shard_list(const char *v)
{
    return strcmp(v, "none") == 0 || strspn(v, "0123456789, ") == strlen(v)
               ? NULL
               : "must list shard ids (0,1) or be none";
}

const rag_conf_section rag_conf_bot = {
    "rag-bot",
    (const rag_conf_key[]){
        RAG_CONF_LOG_LEVEL("info"),
        {"discord_token", RAG_CONF_STR, NULL, 0, 0, NULL,
         "bot token, required (keep it in `discord_token_file`, mode "
         "0600); never logged"},
        {"discord_application_id", RAG_CONF_STR, NULL, 0, 0, NULL,
         "application id (default: from READY)"},
        {"discord_api_base", RAG_CONF_STR, "https://discord.com/api/v10", 0, 0,
         check_url, "REST base URL"},
        {"discord_web_base", RAG_CONF_STR, NULL, 0, 0, check_url,
         "where `/status` links to threads and controller messages point "
         "(default: the origin of `discord_api_base`)"},
        {"discord_gateway_url", RAG_CONF_STR, NULL, 0, 0, check_ws_url,
         "gateway override (default: `GET /gateway/bot`)"},
        {"discord_ca_file", RAG_CONF_STR, NULL, 0, 0, NULL,
         "extra CA certificates (default: the system's)"},
        {"outbox_poll_ms", RAG_CONF_INT, "2000", 10, DAY_MS, NULL,
         "outbox and deferred interactions fallback poll; LISTEN "
         "`rag_outbox` wakes the bot at once"},
        {"outbox_lease_s", RAG_CONF_INT, "60", 1, 86400, NULL,
         "a claimed delivery stays ours this long (renewed while in "
         "flight)"},
        {"outbox_backoff_ms", RAG_CONF_INT, "1000", 0, 300000, NULL,
         "a delivery that failed for a reason that can heal (5xx, no "
         "response) waits `backoff × attempts²` (at most 300 s)"},
        {"outbox_max_attempts", RAG_CONF_INT, "10", 1, 1000, NULL,
         "attempts before a delivery is given up"},
        {"gateway_backoff_ms", RAG_CONF_INT, "1000", 1, DAY_MS, NULL,
         "gateway reconnect backoff base"},
        {"shard_count", RAG_CONF_INT, NULL, 0, RAG_BOT_SHARDS_MAX_COUNT, NULL,
         "gateway shards in all (default, or 0: `GET /gateway/bot`'s "
         "recommendation; 1 with `discord_gateway_url`); see *Several "
         "machines*"},
        {"shards", RAG_CONF_STR, NULL, 0, 0, check_shard_list,
         "the shard ids this process runs (`0,1`; default: all; `none`: a "
         "standby); each process delivers only its guilds' replies"},
        {"shard_takeover", RAG_CONF_INT, "0", 0, RAG_BOT_MAX_SHARDS, NULL,
         "how many shards of a dead process (its lease, `outbox_lease_s`, "
         "ran out) this one takes over and runs besides its own"},
        {NULL, 0, NULL, 0, 0, NULL, NULL},
    },
};

const rag_conf_program rag_conf_prog_bot = {
    "rag-bot",
    (const rag_conf_section *const[]){&rag_conf_bot, &rag_conf_common, NULL}};
