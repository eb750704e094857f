/*
 * conf_tables — every key the worker programs read (rag-worker,
 * rag-ingest, rag-ask, rag-reindex, rag-admin): the sections of keys,
 * each with its default, validator and doc line (rag_conf.h), and each
 * program's table, the list of sections it reads. `rag-admin config
 * [PROGRAM]` prints them, with rag-bot's (lib/rag_conf_bot.h); README.md's
 * tables are checked against that output by t/91-conf-tables.t.
 */
#ifndef CONF_TABLES_H
#define CONF_TABLES_H

#include "rag_conf.h"

/* sections shared by several programs */
extern const rag_conf_section rag_conf_queue;    /* the job runner */
extern const rag_conf_section rag_conf_llm;      /* chat completions */
extern const rag_conf_section rag_conf_answer;   /* retrieval, prompts */
extern const rag_conf_section rag_conf_ingest;   /* chunking, crawling */
extern const rag_conf_section rag_conf_index;    /* how indexes are built */
extern const rag_conf_section rag_conf_fasttext; /* the semantic leg */

/* each program's own keys */
extern const rag_conf_section rag_conf_worker_own;
extern const rag_conf_section rag_conf_ingest_own;
extern const rag_conf_section rag_conf_ask_own;
extern const rag_conf_section rag_conf_reindex_own;
extern const rag_conf_section rag_conf_admin_own;

extern const rag_conf_program rag_conf_prog_worker;
extern const rag_conf_program rag_conf_prog_ingest;
extern const rag_conf_program rag_conf_prog_ask;
extern const rag_conf_program rag_conf_prog_reindex;
extern const rag_conf_program rag_conf_prog_admin;

/* Every program above and rag-bot, NULL-ended. */
extern const rag_conf_program *const rag_conf_programs[];

/* Writes the tables of prog (NULL: of every program) in README.md's
 * form: which sections each program reads, then each section once. */
void rag_conf_print_programs(FILE *out, const rag_conf_program *prog);

/* The program called name ("rag-worker"), or NULL. */
const rag_conf_program *rag_conf_program_find(const char *name);

#endif
