/*
 * rag-admin gaps [--json] [--days N] [--guild G] [--threshold T]
 *                [--index-dir DIR]
 * The gap report (lib/rag_gaps.h): JSON as the dashboard serves it, or a
 * readable listing.
 */
#include "admin.h"
#include "rag_gaps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "rag_json.h"

static const char *
or_empty(const char *s)
{
    return s ? s : "";
}

/* Renders the JSON report as text (one parser for both outputs keeps
 * them identical in content). */
static int
print_text(const char *json)
{
    static const char *cpath[] = {"clusters", NULL};
    char ebuf[256];
    yajl_val root, cls;
    size_t i, j;

    root = yajl_tree_parse(json, ebuf, sizeof(ebuf));
    if (root == NULL)
        return -1;
    cls = yajl_tree_get(root, cpath, yajl_t_array);
    printf("gap report: %lld questions in %zu clusters (unsolved after %lld"
           " days)\n",
           rag_json_int(root, 0, "questions", NULL), cls ? cls->u.array.len : 0,
           rag_json_int(root, 0, "days", NULL));
    for (i = 0; cls && i < cls->u.array.len; i++) {
        yajl_val c = cls->u.array.values[i], ex, pg, rs;
        const char *ep[] = {"examples", NULL}, *pp[] = {"pages", NULL};
        const char *rp[] = {"reasons", NULL};
        printf("\n#%lld  %lld question(s)  collection=%s ",
               rag_json_int(c, 0, "id", NULL),
               rag_json_int(c, 0, "count", NULL),
               or_empty(rag_json_str(c, "collection", NULL)));
        rs = yajl_tree_get(c, rp, yajl_t_object);
        for (j = 0; rs && j < rs->u.object.len; j++)
            printf(" %s=%lld", rs->u.object.keys[j],
                   YAJL_GET_INTEGER(rs->u.object.values[j]));
        putchar('\n');
        ex = yajl_tree_get(c, ep, yajl_t_array);
        for (j = 0; ex && j < ex->u.array.len; j++) {
            yajl_val e = ex->u.array.values[j];
            printf("  - [%s] %.160s\n",
                   or_empty(rag_json_str(e, "reason", NULL)),
                   or_empty(rag_json_str(e, "question", NULL)));
        }
        pg = yajl_tree_get(c, pp, yajl_t_array);
        for (j = 0; pg && j < pg->u.array.len; j++) {
            yajl_val e = pg->u.array.values[j];
            printf("    closest: %s (%s)\n",
                   or_empty(rag_json_str(e, "url", NULL)),
                   or_empty(rag_json_str(e, "title", NULL)));
        }
    }
    yajl_tree_free(root);
    return 0;
}

int
admin_gaps(PGconn *db, rag_conf *conf, int argc, char **argv)
{
    rag_gaps_opts o;
    rag_buf out;
    char err[512];
    int a, json = 0, rc = 1;

    memset(&o, 0, sizeof(o));
    for (a = 0; a < argc; a++) {
        if (strcmp(argv[a], "--json") == 0)
            json = 1;
        else if (a + 1 < argc && strcmp(argv[a], "--days") == 0)
            o.days = atoi(argv[++a]);
        else if (a + 1 < argc && strcmp(argv[a], "--guild") == 0)
            o.guild = argv[++a];
        else if (a + 1 < argc && strcmp(argv[a], "--threshold") == 0)
            o.threshold = strtod(argv[++a], NULL);
        else if (a + 1 < argc && strcmp(argv[a], "--index-dir") == 0)
            o.index_dir = argv[++a];
        else {
            fprintf(stderr, "usage: rag-admin gaps [--json] [--days N]"
                            " [--guild G] [--threshold T]"
                            " [--index-dir DIR]\n");
            return 2;
        }
    }
    if (o.index_dir == NULL)
        o.index_dir = admin_index_dir(conf);
    rag_buf_init(&out, 16u << 20);
    if (rag_gaps_report_json(db, &o, &out, err, sizeof(err)) != 0) {
        fprintf(stderr, "rag-admin gaps: %s\n", err);
        goto done;
    }
    if (json)
        printf("%s\n", out.data);
    else if (print_text(out.data) != 0) {
        fprintf(stderr, "rag-admin gaps: bad report JSON\n");
        goto done;
    }
    rc = 0;
done:
    rag_buf_free(&out);
    return rc;
}
