// SPDX-License-Identifier: GPL-2.0-only
/* output.c - aligned tables and JSON for xpmemctl's records. */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

struct record *records_add(struct records *rs)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct record *r = realloc(rs->r, cap * sizeof(*r));

		if (!r) {
			perror("xpmemctl");
			exit(1);
		}
		rs->r = r;
		rs->cap = cap;
	}
	memset(&rs->r[rs->n], 0, sizeof(rs->r[0]));
	return &rs->r[rs->n++];
}

void records_free(struct records *rs)
{
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

static struct field *add(struct record *r, const char *key)
{
	struct field *f = &r->f[r->n < FIELD_MAX ? r->n++ : FIELD_MAX - 1];

	f->key = key;
	return f;
}

void rec_u64(struct record *r, const char *key, uint64_t v)
{
	struct field *f = add(r, key);

	snprintf(f->text, sizeof(f->text), "%" PRIu64, v);
	snprintf(f->json, sizeof(f->json), "%" PRIu64, v);
}

void rec_hex(struct record *r, const char *key, uint64_t v)
{
	struct field *f = add(r, key);

	snprintf(f->text, sizeof(f->text), "0x%" PRIx64, v);
	snprintf(f->json, sizeof(f->json), "%" PRIu64, v);
}

void rec_str(struct record *r, const char *key, const char *s)
{
	struct field *f = add(r, key);

	size_t o = 0;

	snprintf(f->text, sizeof(f->text), "%s", s);
	/* Encoded from the (possibly shortened) text, so it always closes. */
	f->json[o++] = '"';
	for (s = f->text; *s && o + 8 < sizeof(f->json); s++) {
		if (*s == '"' || *s == '\\') {
			f->json[o++] = '\\';
			f->json[o++] = *s;
		} else if ((unsigned char)*s < 0x20) {
			o += snprintf(f->json + o, sizeof(f->json) - o, "\\u%04x", *s);
		} else {
			f->json[o++] = *s;
		}
	}
	f->json[o++] = '"';
	f->json[o] = '\0';
}

void rec_bool(struct record *r, const char *key, int v)
{
	struct field *f = add(r, key);

	snprintf(f->text, sizeof(f->text), "%s", v ? "yes" : "no");
	snprintf(f->json, sizeof(f->json), "%s", v ? "true" : "false");
}

void rec_mode(struct record *r, const char *key, unsigned int mode)
{
	struct field *f = add(r, key);

	snprintf(f->text, sizeof(f->text), "%04o", mode);
	snprintf(f->json, sizeof(f->json), "\"%04o\"", mode);
}

void print_table(FILE *f, const struct records *rs)
{
	print_table_head(f, rs, rs->n);
}

void print_table_head(FILE *f, const struct records *rs, size_t rows)
{
	size_t w[FIELD_MAX] = { 0 }, i;
	int c;

	if (!rs->n)
		return;
	if (rows > rs->n)
		rows = rs->n;
	for (c = 0; c < rs->r[0].n; c++)
		w[c] = strlen(rs->r[0].f[c].key);
	for (i = 0; i < rows; i++)
		for (c = 0; c < rs->r[i].n; c++)
			if (strlen(rs->r[i].f[c].text) > w[c])
				w[c] = strlen(rs->r[i].f[c].text);
	for (c = 0; c < rs->r[0].n; c++) {
		const char *k = rs->r[0].f[c].key;
		size_t j;

		for (j = 0; k[j]; j++)
			fputc(toupper((unsigned char)k[j]), f);
		fprintf(f, "%*s", c + 1 < rs->r[0].n ? (int)(w[c] - j + 2) : 0, "");
	}
	fputc('\n', f);
	for (i = 0; i < rows; i++) {
		for (c = 0; c < rs->r[i].n; c++) {
			/* numbers right-aligned, words left-aligned */
			const char *t = rs->r[i].f[c].text;
			int num = isdigit((unsigned char)t[0]);
			int last = c + 1 == rs->r[i].n;

			if (num)
				fprintf(f, "%*s%s", (int)w[c], t, last ? "" : "  ");
			else
				fprintf(f, "%-*s%s", last ? 0 : (int)w[c], t,
					last ? "" : "  ");
		}
		fputc('\n', f);
	}
}

void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void print_json_object(FILE *f, const struct record *r)
{
	int c;

	fputc('{', f);
	for (c = 0; c < r->n; c++)
		fprintf(f, "%s\"%s\": %s", c ? ", " : "", r->f[c].key,
			r->f[c].json);
	fputc('}', f);
}

void print_json_array(FILE *f, const char *key, const struct records *rs)
{
	size_t i;

	fprintf(f, "\"%s\": [", key);
	for (i = 0; i < rs->n; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		print_json_object(f, &rs->r[i]);
	}
	fputs(rs->n ? "\n]" : "]", f);
}
