/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * output.h - records printed as an aligned table or as JSON.
 *
 * A command collects records (ordered key/value fields); the same record
 * prints as a table row (text form of each value) or as a JSON object (the
 * JSON form, with stable keys: the keys are the documented field names).
 */
#ifndef XPMEMCTL_OUTPUT_H
#define XPMEMCTL_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FIELD_MAX 32

struct field {
	const char *key;	/* JSON key and (upper-cased) table header */
	char text[80];		/* as shown in tables */
	char json[100];		/* a JSON value, already encoded */
};

struct record {
	struct field f[FIELD_MAX];
	int n;
};

struct records {
	struct record *r;
	size_t n, cap;
};

struct record *records_add(struct records *rs);
void records_free(struct records *rs);

void rec_u64(struct record *r, const char *key, uint64_t v);
void rec_hex(struct record *r, const char *key, uint64_t v);	/* text hex, JSON number */
void rec_str(struct record *r, const char *key, const char *s);
void rec_bool(struct record *r, const char *key, int v);
void rec_mode(struct record *r, const char *key, unsigned int mode);

void print_table(FILE *f, const struct records *rs);
/* The header and the first `rows` records only. */
void print_table_head(FILE *f, const struct records *rs, size_t rows);
/* "key": [ {...}, ... ] without the braces around it. */
void print_json_array(FILE *f, const char *key, const struct records *rs);
/* One record as a JSON object (no newline). */
void print_json_object(FILE *f, const struct record *r);
void json_string(FILE *f, const char *s);

#endif
