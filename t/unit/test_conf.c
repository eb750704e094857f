/*
 * Unit tests for the config tables (lib/rag_conf.h, worker/conf_tables.c):
 * every default passes its own validator, no program reads a key from two
 * sections, a bad value is refused naming the key, "key =" leaves a
 * number unset, the environment overrides the file, accessors read the
 * table's default, and the printed form README.md uses.
 *
 * Worker objects are not in librag.a, so the source is included here.
 */
#include "unit.h"

#include "../../worker/conf_tables.c"

#include "rag_log.h"

#include <stdlib.h>
#include <unistd.h>

static const rag_conf_section t_sec = {
    "t",
    (const rag_conf_key[]){
        {"t_int", RAG_CONF_INT, "7", 1, 10, NULL, "an int"},
        {"t_num", RAG_CONF_NUM, "0.5", 0, 1, NULL, "a number"},
        {"t_on", RAG_CONF_BOOL, "on", 0, 1, NULL, "a switch"},
        {"t_str", RAG_CONF_STR, NULL, 0, 0, rag_conf_check_log_level,
         "a level"},
        {NULL, 0, NULL, 0, 0, NULL, NULL},
    },
};
static const rag_conf_program t_prog = {
    "t", (const rag_conf_section *const[]){&t_sec, NULL}};

/* A conf from the text of a file. */
static rag_conf *
conf_of(const char *text)
{
    char path[] = "/tmp/test_conf_XXXXXX", err[256];
    int fd = mkstemp(path);
    rag_conf *c;

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
        return NULL;
    close(fd);
    c = rag_conf_load(path, err, sizeof(err));
    unlink(path);
    return c;
}

/* 0 when text suits t_prog, else -1 with the error in err. */
static int
check_text(const char *text, char *err, size_t errlen)
{
    rag_conf *c = conf_of(text);
    int rc = c ? rag_conf_check(c, &t_prog, err, errlen) : -2;

    rag_conf_free(c);
    return rc;
}

static void
test_defaults_valid(void)
{
    char err[256];
    rag_conf *empty = rag_conf_load(NULL, err, sizeof(err));

    for (size_t p = 0; rag_conf_programs[p]; p++) {
        const rag_conf_program *prog = rag_conf_programs[p];

        CHECK(rag_conf_program_find(prog->name) == prog);
        for (size_t s = 0; prog->sections[s]; s++) {
            for (const rag_conf_key *k = prog->sections[s]->keys; k->key; k++) {
                char text[512];
                rag_conf *c;

                CHECK(k->doc && *k->doc);
                /* the default, written in a file, passes the check */
                snprintf(text, sizeof(text), "%s = \"%s\"\n", k->key,
                         k->def ? k->def : "");
                c = conf_of(text);
                if (c == NULL || rag_conf_check(c, prog, err, sizeof(err))) {
                    fprintf(stderr, "%s: default: %s\n", k->key, err);
                    CHECK(0);
                }
                rag_conf_free(c);
                /* one key, one section within a program */
                for (size_t s2 = s + 1; prog->sections[s2]; s2++)
                    for (const rag_conf_key *k2 = prog->sections[s2]->keys;
                         k2->key; k2++)
                        if (strcmp(k->key, k2->key) == 0) {
                            fprintf(stderr, "%s: %s twice\n", prog->name,
                                    k->key);
                            CHECK(0);
                        }
            }
        }
        /* the defaults alone suit every program (no environment) */
        CHECK(rag_conf_check(empty, prog, err, sizeof(err)) == 0);
    }
    CHECK(rag_conf_program_find("rag-nothing") == NULL);
    rag_conf_free(empty);
}

static void
test_check(void)
{
    char err[256];

    CHECK(check_text("t_int = 10\nt_num = 0\nt_on = off\nt_str = warn\n", err,
                     sizeof(err)) == 0);
    CHECK(check_text("t_int = 11\n", err, sizeof(err)) == -1);
    CHECK_STR(err, "t_int = \"11\": out of range (1 to 10)");
    CHECK(check_text("t_int = 0\n", err, sizeof(err)) == -1);
    CHECK(check_text("t_int = 2.5\n", err, sizeof(err)) == -1);
    CHECK_STR(err, "t_int = \"2.5\": must be a whole number (1 to 10)");
    CHECK(check_text("t_int = 5x\n", err, sizeof(err)) == -1);
    CHECK(check_text("t_num = 1.5\n", err, sizeof(err)) == -1);
    CHECK(check_text("t_num = nan\n", err, sizeof(err)) == -1);
    CHECK(check_text("t_num = abc\n", err, sizeof(err)) == -1);
    CHECK_STR(err, "t_num = \"abc\": must be a number (0 to 1)");
    CHECK(check_text("t_on = maybe\n", err, sizeof(err)) == -1);
    CHECK_STR(err, "t_on = \"maybe\": must be on or off");
    CHECK(check_text("t_str = loud\n", err, sizeof(err)) == -1);
    CHECK_STR(err, "t_str = \"loud\": must be debug, info, warn or error");
    /* "key =" leaves a number unset */
    CHECK(check_text("t_int =\nt_num =\nt_on =\n", err, sizeof(err)) == 0);
    /* keys outside the table are not this program's business */
    CHECK(check_text("other = 1\n", err, sizeof(err)) == 0);
    /* the environment is checked too */
    setenv("RAG_T_INT", "99", 1);
    CHECK(check_text("", err, sizeof(err)) == -1);
    CHECK_STR(err, "t_int = \"99\": out of range (1 to 10)");
    unsetenv("RAG_T_INT");
}

static void
test_accessors(void)
{
    rag_conf *c = conf_of("t_int = 3\nt_num = 0.25\nt_on = no\n");
    rag_conf *d = conf_of("t_int =\nt_num = 9\n");

    CHECK(c && d);
    CHECK_INT(rag_conf_long(c, &t_sec, "t_int"), 3);
    CHECK(rag_conf_num(c, &t_sec, "t_num") == 0.25);
    CHECK_INT(rag_conf_on(c, &t_sec, "t_on"), 0);
    CHECK(rag_conf_str(c, &t_sec, "t_str") == NULL);
    /* unset, empty or (unchecked) out of range: the table's default */
    CHECK_INT(rag_conf_long(d, &t_sec, "t_int"), 7);
    CHECK(rag_conf_num(d, &t_sec, "t_num") == 0.5);
    CHECK_INT(rag_conf_on(d, &t_sec, "t_on"), 1);
    /* the environment wins */
    setenv("RAG_T_INT", "9", 1);
    CHECK_INT(rag_conf_long(c, &t_sec, "t_int"), 9);
    unsetenv("RAG_T_INT");
    /* a key missing from its section: zero (and an error logged) */
    CHECK_INT(rag_conf_long(c, &t_sec, "t_missing"), 0);
    CHECK(rag_conf_str(c, &t_sec, "t_missing") == NULL);
    /* the real tables */
    CHECK_STR(rag_conf_str(d, &rag_conf_common, "index_dir"),
              RAG_INDEX_DIR_DEFAULT);
    CHECK_STR(rag_conf_str(d, &rag_conf_ask_own, "log_level"), "warn");
    CHECK_INT(rag_conf_long(d, &rag_conf_queue, "lease_seconds"), 60);
    rag_conf_free(c);
    rag_conf_free(d);
}

static void
test_print(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    rag_conf_print(f, &t_sec);
    fclose(f);
    CHECK_STR(text, "\n**t**\n\n| key | default | meaning |\n|---|---|---|\n"
                    "| `t_int` | `7` | an int |\n"
                    "| `t_num` | `0.5` | a number |\n"
                    "| `t_on` | `on` | a switch |\n"
                    "| `t_str` | — | a level |\n");
    free(text);
}

static void
test_index_path(void)
{
    char p[64];

    CHECK(rag_index_path(p, sizeof(p), "/ix", "docs") == 0);
    CHECK_STR(p, "/ix/docs.idx");
    CHECK(rag_index_path(p, sizeof(p), "/ix", "../etc") == -1);
    CHECK(rag_index_path(p, sizeof(p), "/ix", ".") == -1);
    CHECK(rag_index_path(p, sizeof(p), "", "docs") == -1);
    CHECK(rag_index_path(p, 8, "/ix", "docs") == -1);
    CHECK(rag_collection_name_ok("community-123_a.b"));
    CHECK(!rag_collection_name_ok(""));
    CHECK(!rag_collection_name_ok("a/b"));
    CHECK(rag_index_dir_check("") != NULL);
    CHECK(rag_index_dir_check("/var") == NULL);
}

int
main(void)
{
    rag_log_set_level(RAG_LOG_ERROR);
    RUN(test_defaults_valid);
    RUN(test_check);
    RUN(test_accessors);
    RUN(test_print);
    RUN(test_index_path);
    UNIT_DONE();
}
