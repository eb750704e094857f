#include "conf_tables.h"

#include "answer_text.h" /* RAG_ANSWER_MAX_K */
#include "rag_collection.h"
#include "rag_conf_bot.h"
#include "rag_embed.h"
#include "rag_ft.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define END                                                                    \
    {                                                                          \
        NULL, 0, NULL, 0, 0, NULL, NULL                                        \
    }
#define DAY_MS (86400.0 * 1000)

static const char *
check_leg(const char *v)
{
    return strcmp(v, "fasttext") && strcmp(v, "off") ? "must be fasttext or off"
                                                     : NULL;
}

static const char *
check_onoff(const char *v)
{
    return strcmp(v, "on") && strcmp(v, "off") ? "must be on or off" : NULL;
}

static const char *
check_collection(const char *v)
{
    return *v == '\0' || rag_collection_name_ok(v)
               ? NULL
               : "not a collection name "
                 "([A-Za-z0-9._-], at most 64)";
}

const rag_conf_section rag_conf_queue = {
    "queue",
    (const rag_conf_key[]){
        {"concurrency", RAG_CONF_INT, "2", 1, 256, NULL,
         "jobs in flight (threads, each with its own connection); needs a "
         "restart"},
        {"worker_id", RAG_CONF_STR, NULL, 0, 0, NULL,
         "recorded in `jobs.locked_by` (default host:pid); needs a restart"},
        {"poll_interval_ms", RAG_CONF_INT, "1000", 10, DAY_MS, NULL,
         "fallback poll; LISTEN `rag_jobs` wakes workers at once"},
        {"queue_listen", RAG_CONF_BOOL, "on", 0, 1, NULL,
         "wake on NOTIFY `rag_jobs` (turn off behind a transaction-mode "
         "pooler)"},
        {"queue_session_liveness", RAG_CONF_BOOL, "on", 0, 1, NULL,
         "a job whose claiming session ended (crash, `kill -9`) is retried "
         "at the next poll, not after its lease; off behind a "
         "transaction-mode pooler"},
        {"lease_seconds", RAG_CONF_INT, "60", 1, 86400, NULL,
         "job lease, renewed every third of it while the job runs"},
        {"shutdown_grace_ms", RAG_CONF_INT, "20000", 0, DAY_MS, NULL,
         "on SIGTERM, finish within this or release the job without "
         "burning an attempt"},
        {"retry_base_seconds", RAG_CONF_NUM, "1.0", 0, 86400, NULL,
         "retry delay `base × attempts⁴`, ±10 % jitter; `dead` after "
         "`max_attempts`"},
        {"retry_cap_seconds", RAG_CONF_NUM, "3600", 0, 30 * 86400, NULL,
         "the longest retry delay"},
        {"job_retention_days", RAG_CONF_NUM, "7", 0, 3650, NULL,
         "finished jobs are purged after this; dead jobs are kept"},
        END,
    },
};

const rag_conf_section rag_conf_llm = {
    "llm",
    (const rag_conf_key[]){
        {"llm_base_url", RAG_CONF_STR, NULL, 0, 0, NULL,
         "any OpenAI-compatible API (`…/v1`); unset: extractive answers"},
        {"llm_api_key", RAG_CONF_STR, NULL, 0, 0, NULL,
         "its bearer key (or `llm_api_key_file`)"},
        {"llm_model", RAG_CONF_STR, "gpt-4o-mini", 0, 0, NULL,
         "chat completion model"},
        {"llm_temperature", RAG_CONF_NUM, "0.2", 0, 2, NULL,
         "sampling temperature"},
        {"llm_max_tokens", RAG_CONF_INT, "700", 1, 1000000, NULL,
         "longest answer, in tokens"},
        {"llm_timeout_ms", RAG_CONF_INT, "90000", 1, DAY_MS, NULL,
         "per request"},
        {"llm_max_retries", RAG_CONF_INT, "3", 0, 100, NULL,
         "408/409/429/5xx retried, honouring `Retry-After`"},
        {"llm_backoff_ms", RAG_CONF_INT, "500", 1, DAY_MS, NULL,
         "first retry delay, doubling up to 8 s"},
        END,
    },
};

const rag_conf_section rag_conf_answer = {
    "answers",
    (const rag_conf_key[]){
        {"answer_top_k", RAG_CONF_INT, "5", 1, RAG_ANSWER_MAX_K, NULL,
         "passages given to the model"},
        {"answer_min_score", RAG_CONF_NUM, "1.0", 0, 1e9, NULL,
         "below this best BM25 score and `answer_min_cosine` the bot "
         "abstains, pings the helper role and records a gap "
         "(`guild_config.answer_threshold` overrides per guild)"},
        {"answer_min_cosine", RAG_CONF_NUM, "0.5", -1, 1, NULL,
         "the best cosine similarity needed (vector leg)"},
        {"answer_token_budget", RAG_CONF_INT, "6000", 100, 10000000, NULL,
         "prompt budget: passages and conversation fit it, latest turns "
         "kept"},
        {"answer_passage_tokens", RAG_CONF_INT, "600", 10, 1000000, NULL,
         "most tokens of one passage in the prompt"},
        {"answer_turn_tokens", RAG_CONF_INT, "800", 10, 1000000, NULL,
         "most tokens of one conversation turn"},
        {"answer_max_turns", RAG_CONF_INT, "12", 0, 1000, NULL,
         "conversation turns kept"},
        {"answer_extract_passages", RAG_CONF_INT, "3", 1, 50, NULL,
         "offline answers: how many passages to quote"},
        {"answer_quote_bytes", RAG_CONF_INT, "600", 1, 1000000, NULL,
         "offline answers: how much of each"},
        {"answer_extract_min_ratio", RAG_CONF_NUM, "0.4", 0, 1, NULL,
         "offline answers: how close to the best score a quoted passage "
         "must be"},
        {"default_collection", RAG_CONF_STR, NULL, 0, 0, check_collection,
         "collection for threads without one"},
        {"answer_community_passages", RAG_CONF_INT, "2", 0, 2, NULL,
         "community answers allowed among the top k (0 = docs only)"},
        END,
    },
};

const rag_conf_section rag_conf_ingest = {
    "ingestion",
    (const rag_conf_key[]){
        {"chunk_tokens", RAG_CONF_INT, "500", 20, 100000, NULL,
         "chunk target size (never splitting a code fence or table row)"},
        {"chunk_overlap", RAG_CONF_INT, NULL, 0, 100000, NULL,
         "tokens shared by neighbouring chunks (default 15 % of "
         "`chunk_tokens`)"},
        {"crawl_delay", RAG_CONF_NUM, "0.5", 0, 3600, NULL,
         "seconds between requests to a site (robots.txt `Crawl-delay` "
         "wins when larger)"},
        {"crawl_concurrency", RAG_CONF_INT, "4", 1, 16, NULL,
         "parallel fetches"},
        {"crawl_timeout_ms", RAG_CONF_INT, "30000", 100, DAY_MS, NULL,
         "per page"},
        {"crawl_max_bytes", RAG_CONF_INT, "8388608", 1024, 1073741824.0, NULL,
         "largest page"},
        {"crawl_backoff_ms", RAG_CONF_INT, "500", 1, DAY_MS, NULL,
         "first retry delay of a page that got a 5xx"},
        {"crawl_max_pages", RAG_CONF_INT, "10000", 1, 10000000, NULL,
         "page limit of one crawl (`--max-pages`); reaching it is a "
         "partial crawl (exit 3)"},
        {"ingest_allow_private", RAG_CONF_BOOL, "off", 0, 1, NULL,
         "let jobs crawl private addresses (a job payload cannot grant "
         "it)"},
        {"ingest_file_root", RAG_CONF_STR, NULL, 0, 0, NULL,
         "let jobs read files under this root (a job payload cannot grant "
         "it)"},
        END,
    },
};

const rag_conf_section rag_conf_fasttext = {
    "semantic leg",
    (const rag_conf_key[]){
        {"semantic_leg", RAG_CONF_STR, "off", 0, 0, check_leg,
         "`fasttext`: train a model per collection at reindex and fuse "
         "its leg with BM25 (it reorders BM25's best 20); `off`: BM25 (and "
         "endpoint vectors) only (training is slow: README)"},
        {"fasttext_bin", RAG_CONF_STR, "/usr/bin/fasttext", 0, 0, NULL,
         "Debian's fasttext program"},
        {"fasttext_dim", RAG_CONF_INT, "100", 1, RAG_FT_MAX_DIM, NULL,
         "vector size"},
        {"fasttext_epoch", RAG_CONF_INT, "5", 1, 1000, NULL, "training epochs"},
        {"fasttext_min_count", RAG_CONF_INT, "2", 1, 1000000, NULL,
         "rarest word kept"},
        {"fasttext_bucket", RAG_CONF_INT, "200000", 1, 1 << 26, NULL,
         "subword hash buckets"},
        {"fasttext_seed", RAG_CONF_INT, "1", 0, INT32_MAX, NULL,
         "training seed (same corpus and seed: same model)"},
        {"fasttext_min_tokens", RAG_CONF_INT, "50000", 0, 1e15, NULL,
         "smaller collections get no model"},
        {"fasttext_max_tokens", RAG_CONF_INT, "20000000", 1000, 1e15, NULL,
         "corpus cut"},
        {"fasttext_max_seconds", RAG_CONF_INT, "3600", 1, 7 * 86400, NULL,
         "training time limit"},
        {"fasttext_max_memory_mb", RAG_CONF_INT, "2048", 64, 1 << 20, NULL,
         "training memory limit"},
        {"fasttext_retrain_growth", RAG_CONF_NUM, "0.25", 0, 1e6, NULL,
         "retrain when the collection grew by this fraction"},
        {"fasttext_retrain_oov", RAG_CONF_NUM, "0.03", 0, 1, NULL,
         "or when this share of its tokens is unknown to the model"},
        END,
    },
};

const rag_conf_section rag_conf_index = {
    "index",
    (const rag_conf_key[]){
        {"index_expansion", RAG_CONF_STR, "off", 0, 0, check_onoff,
         "`on`: each chunk's heading field also holds the terms the docs' own "
         "index pages (genindex, bookindex) file it under (measured: README, "
         "Ranking)"},
        END,
    },
};

const rag_conf_section rag_conf_worker_own = {
    "rag-worker",
    (const rag_conf_key[]){RAG_CONF_LOG_LEVEL("info"), END},
};

const rag_conf_section rag_conf_ingest_own = {
    "rag-ingest",
    (const rag_conf_key[]){RAG_CONF_LOG_LEVEL("info"), END},
};

const rag_conf_section rag_conf_ask_own = {
    "rag-ask",
    (const rag_conf_key[]){RAG_CONF_LOG_LEVEL("warn"), END},
};

const rag_conf_section rag_conf_reindex_own = {
    "rag-reindex",
    (const rag_conf_key[]){
        RAG_CONF_LOG_LEVEL("info"),
        {"follow_poll_ms", RAG_CONF_INT, "30000", 100, DAY_MS, NULL,
         "`--follow DIR`: full comparison of every collection with its "
         "file, besides LISTEN `rag_index`"},
        {"follow_retry_ms", RAG_CONF_INT, "1000", 10, DAY_MS, NULL,
         "`--follow`: delay before a reconnect or a failed rebuild is "
         "retried"},
        END,
    },
};

const rag_conf_section rag_conf_admin_own = {
    "rag-admin",
    (const rag_conf_key[]){
        {"health_url", RAG_CONF_STR, NULL, 0, 0, NULL,
         "`doctor`: the `/rag/health` URL to check"},
        {"worker_user", RAG_CONF_STR, "ngx-rag", 0, 0, NULL,
         "`doctor`: who must write `index_dir`"},
        {"nginx_user", RAG_CONF_STR, "www-data", 0, 0, NULL,
         "`doctor`: who must read `index_dir`"},
        {"export_system_prompt", RAG_CONF_STR, NULL, 0, 0, NULL,
         "`export`: the system turn of every transcript (default: a "
         "support assistant that cites the documentation)"},
        END,
    },
};

#define PROGRAM(var, name, ...)                                                \
    const rag_conf_program var = {                                             \
        name, (const rag_conf_section *const[]){__VA_ARGS__, NULL}}

PROGRAM(rag_conf_prog_worker, "rag-worker", &rag_conf_worker_own,
        &rag_conf_common, &rag_conf_queue, &rag_conf_llm, &rag_conf_embed,
        &rag_conf_answer, &rag_conf_ingest, &rag_conf_index,
        &rag_conf_fasttext);
PROGRAM(rag_conf_prog_ingest, "rag-ingest", &rag_conf_ingest_own,
        &rag_conf_common, &rag_conf_embed, &rag_conf_ingest, &rag_conf_index,
        &rag_conf_fasttext);
PROGRAM(rag_conf_prog_ask, "rag-ask", &rag_conf_ask_own, &rag_conf_common,
        &rag_conf_llm, &rag_conf_embed, &rag_conf_answer);
PROGRAM(rag_conf_prog_reindex, "rag-reindex", &rag_conf_reindex_own,
        &rag_conf_common, &rag_conf_index, &rag_conf_fasttext);
PROGRAM(rag_conf_prog_admin, "rag-admin", &rag_conf_admin_own, &rag_conf_common,
        &rag_conf_llm, &rag_conf_embed, &rag_conf_answer, &rag_conf_ingest,
        &rag_conf_index, &rag_conf_fasttext);

const rag_conf_program *const rag_conf_programs[] = {&rag_conf_prog_worker,
                                                     &rag_conf_prog_ingest,
                                                     &rag_conf_prog_ask,
                                                     &rag_conf_prog_reindex,
                                                     &rag_conf_prog_admin,
                                                     &rag_conf_prog_bot,
                                                     NULL};

const rag_conf_program *
rag_conf_program_find(const char *name)
{
    for (size_t i = 0; rag_conf_programs[i]; i++)
        if (strcmp(rag_conf_programs[i]->name, name) == 0)
            return rag_conf_programs[i];
    return NULL;
}

void
rag_conf_print_programs(FILE *out, const rag_conf_program *prog)
{
    const rag_conf_program *one[] = {prog, NULL};
    const rag_conf_program *const *progs = prog ? one : rag_conf_programs;
    const rag_conf_section *done[32];
    size_t ndone = 0;

    fprintf(out, "| program | reads the sections |\n|---|---|\n");
    for (size_t p = 0; progs[p]; p++) {
        fprintf(out, "| `%s` |", progs[p]->name);
        for (size_t s = 0; progs[p]->sections[s]; s++)
            fprintf(out, "%s %s", s ? "," : "", progs[p]->sections[s]->name);
        fprintf(out, " |\n");
    }
    for (size_t p = 0; progs[p]; p++) {
        for (size_t s = 0; progs[p]->sections[s]; s++) {
            const rag_conf_section *sec = progs[p]->sections[s];
            size_t d = 0;

            while (d < ndone && done[d] != sec)
                d++;
            if (d < ndone || ndone == sizeof(done) / sizeof(done[0]))
                continue;
            done[ndone++] = sec;
            rag_conf_print(out, sec);
        }
    }
}
