/*
 * The subset of the Cloud Monitoring and Cloud Logging filter language that
 * localcloud evaluates: comparisons joined by AND, such as
 *   metric.type="run.googleapis.com/container/instance_count" AND
 *   resource.labels.service_name="svc" AND timestamp>="2026-01-02T03:04:05Z"
 * Values are double-quoted strings (with \" and \\ escapes) or bare words.
 * OR, NOT, parentheses and functions are rejected as unsupported.
 */
#ifndef LOCALCLOUD_FILTER_H
#define LOCALCLOUD_FILTER_H

#include <stddef.h>

#define FILTER_TERMS_MAX	16
#define FILTER_FIELD_MAX	64
#define FILTER_VALUE_MAX	512

enum filter_op {
	FILTER_EQ,	/* = */
	FILTER_NE,	/* != */
	FILTER_LT,	/* < */
	FILTER_LE,	/* <= */
	FILTER_GT,	/* > */
	FILTER_GE,	/* >= */
	FILTER_HAS,	/* : (substring) */
};

struct filter_term {
	char		field[FILTER_FIELD_MAX];
	enum filter_op	op;
	char		value[FILTER_VALUE_MAX];
};

/* Parses text into at most FILTER_TERMS_MAX terms. Returns their count, or
 * -1 with a message in err. */
int	filter_parse(const char *text, struct filter_term *terms, char *err,
	    size_t size);

/* Compares a string field value with a term: equality, inequality,
 * substring, and the order of the strings for <, <=, >, >=. */
int	filter_match_string(const struct filter_term *, const char *value);

#endif
