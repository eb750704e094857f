/*
 * rag-ask — answer one question from the command line with the same
 * retrieval and answer path as the worker's 'answer' job (no queue, no
 * reply row): prints the answer and its numbered sources.
 *
 *   rag-ask [-c FILE] [--index-dir DIR] --collection NAME "question"
 *   rag-ask -h | --help
 *
 * With no llm_base_url configured the answer is extractive (quoted
 * passages with links), so it works offline. The collection's
 * description (the product name used in the prompt) is read from the
 * database when database_url is set; otherwise the name is used.
 */
#include "conf_tables.h"
#include "answer.h"
#include "rag_conf.h"
#include "rag_db.h"
#include "rag_http.h"
#include "rag_log.h"
#include "rag_store_collections.h"

#include <stdio.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(f, "usage: rag-ask [-c FILE] [--index-dir DIR] "
               "--collection NAME \"question\"\n"
               "       rag-ask -h | --help\n");
}

static void
product_name(rag_conf *conf, const char *collection, char *out, size_t outlen)
{
    const char *url = rag_conf_database(conf);
    char err[256];
    PGconn *db;

    snprintf(out, outlen, "%s", collection);
    if (url == NULL || *url == '\0')
        return;
    db = rag_db_connect(url, "rag-ask", err, sizeof(err));
    if (db == NULL)
        return;
    rag_store_collections_product(db, collection, out, outlen);
    PQfinish(db);
}

int
main(int argc, char **argv)
{
    const char *path = NULL, *collection = NULL, *question = NULL,
               *index_dir = NULL;
    char err[512], product[512];
    rag_answer_env env;
    rag_answer_result res;
    rag_conf *conf;
    rag_turn turn;
    rag_buf query;
    int rc = 1, lrc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--collection") == 0 && i + 1 < argc)
            collection = argv[++i];
        else if (strcmp(argv[i], "--index-dir") == 0 && i + 1 < argc)
            index_dir = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || question) {
            usage(stderr);
            return 2;
        } else
            question = argv[i];
    }
    if (collection == NULL || question == NULL || *question == '\0') {
        usage(stderr);
        return 2;
    }
    conf = rag_conf_load_program(path, &rag_conf_prog_ask, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "rag-ask: %s\n", err);
        return 1;
    }
    rag_conf_apply_log_level(conf, &rag_conf_ask_own);
    rag_http_global_init();
    memset(&env, 0, sizeof(env));
    rag_answer_env_load(&env, conf);
    if (index_dir)
        env.index_dir = index_dir;
    env.ixc = rag_ixcache_new();
    rag_answer_result_init(&res);
    rag_buf_init(&query, 8192);
    if (env.ixc == NULL)
        goto done;
    product_name(conf, collection, product, sizeof(product));
    turn.from_bot = 0;
    turn.content = question;
    if (rag_answer_query(NULL, &turn, 1, 2000, &query) != 0 ||
        rag_answer_retrieve(&env, collection, query.data, NULL, 0, &res, err,
                            sizeof(err)) != 0) {
        fprintf(stderr, "rag-ask: retrieval failed: %s\n", err);
        goto done;
    }
    if (res.np == 0)
        fprintf(stderr, "rag-ask: no passages (is %s/%s.idx built?)\n",
                env.index_dir, collection);
    lrc = rag_answer_generate(&env, product, NULL, &turn, 1, -1, NULL, &res,
                              err, sizeof(err));
    if (lrc != RAG_LLM_OK) {
        fprintf(stderr, "rag-ask: %s\n", err);
        goto done;
    }
    while (res.text.len > 0 && res.text.data[res.text.len - 1] == '\n')
        res.text.data[--res.text.len] = '\0';
    printf("%s\n", res.text.data ? res.text.data : "");
    if (res.nsrc > 0) {
        printf("\nSources:\n");
        for (size_t i = 0; i < res.nsrc; i++) {
            const rag_passage *p = &res.ps[res.src[i]];

            printf("[%d] %s%s%s\n    %s  (score %.4f, bm25 %.2f)\n", p->n,
                   p->title, *p->heading ? " › " : "", p->heading, p->url,
                   p->score, p->bm25);
        }
    }
    rc = 0;
done:
    rag_buf_free(&query);
    rag_answer_result_free(&res);
    rag_ixcache_free(env.ixc);
    rag_conf_free(conf);
    return rc;
}
