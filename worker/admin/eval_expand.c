#include "eval_expand.h"

#include "rag_db.h"
#include "rag_reindex.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies from to to. 0, or -1 (to may be partly written). */
static int
copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = NULL;
    char buf[65536];
    size_t n;
    int rc = -1;

    if (in == NULL || (out = fopen(to, "wb")) == NULL)
        goto done;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            goto done;
    rc = ferror(in) ? -1 : 0;
done:
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    return rc;
}

int
eval_expand_index(eval_expand *x, const char *live_dir, const char *name,
                  char *path, size_t pathlen, char *err, size_t errlen)
{
    rag_reindex_opts ro;
    char live[4096];

    if (x->dir[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(x->dir, sizeof(x->dir), "%s/rag-eval-XXXXXX",
                 t && *t && strlen(t) < 40 ? t : "/tmp");
        if (mkdtemp(x->dir) == NULL) {
            snprintf(err, errlen, "cannot create a scratch directory");
            x->dir[0] = '\0';
            return -1;
        }
    }
    if (x->db == NULL) {
        x->db = rag_db_connect(rag_conf_database(x->conf), "rag-admin eval",
                               err, errlen);
        if (x->db == NULL)
            return -1;
    }
    if (rag_index_path(live, sizeof(live), live_dir, name) != 0 ||
        rag_index_path(path, pathlen, x->dir, name) != 0) {
        snprintf(err, errlen, "bad collection name %s", name);
        return -1;
    }
    if (copy_file(live, path) != 0) {
        snprintf(err, errlen, "cannot copy %s to %s", live, path);
        return -1;
    }
    rag_reindex_opts_load(&ro, x->conf);
    ro.mirror = 1;
    ro.expand = x->expand;
    return rag_reindex(x->db, name, x->dir, &ro, NULL, err, errlen);
}

void
eval_expand_free(eval_expand *x)
{
    DIR *d;
    struct dirent *e;

    if (x->db)
        PQfinish(x->db);
    if (x->dir[0] && (d = opendir(x->dir)) != NULL) {
        char p[4096];
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof(p), "%s/%s", x->dir, e->d_name);
                unlink(p);
            }
        closedir(d);
        rmdir(x->dir);
    }
    memset(x, 0, sizeof(*x));
}
