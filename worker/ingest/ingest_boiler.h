/*
 * ingest_boiler — site boilerplate: lines repeated on most pages.
 *
 * Main-content scoring (rag_html) removes most page furniture, but some
 * sits inside the content container on every page ("Part of the git(1)
 * suite", "Last update: Nov 11", "[previous] | [up] | [next]"). Such a
 * line says nothing about the page it is on and makes every page look
 * alike to BM25, so a line that appears on more than half of a site's
 * pages (sites of BOILER_MIN_PAGES pages or more) is dropped before
 * chunking, and so is a heading left with nothing under it.
 *
 * A line counts when it is prose: outside code fences, not a heading or
 * a table row, with a letter or digit; it is compared without its blockquote
 * markers, surrounding spaces and link targets ("[next](a.html)" equals
 * "[next](b.html)"). Code is never dropped.
 *
 * Ownership: boiler_set owns its array (boiler_set_free).
 */
#ifndef INGEST_BOILER_H
#define INGEST_BOILER_H

#include "rag_buf.h"

#include <stddef.h>
#include <stdint.h>

#define BOILER_MIN_PAGES 10

typedef struct {
    uint64_t *keys; /* sorted */
    size_t n;
} boiler_set;

typedef struct boiler_counter boiler_counter;

/* Counts line document frequencies over pages added one by one. */
boiler_counter *boiler_counter_new(void);
int boiler_counter_add(boiler_counter *bc, const char *md, size_t len);
/* The lines on more than half of the pages (none below
 * BOILER_MIN_PAGES pages); frees bc. 0 or -1 (out of memory). */
int boiler_counter_finish(boiler_counter *bc, boiler_set *out);
void boiler_counter_free(boiler_counter *bc);

/* A signature of the set ("" when empty), to notice when it changed. */
void boiler_set_signature(const boiler_set *s, char *out, size_t outlen);
void boiler_set_free(boiler_set *s);

/* md without the set's lines and the headings they leave empty. 0 or
 * -1 (out full). */
int boiler_strip(const char *md, size_t len, const boiler_set *s, rag_buf *out);

#endif
