/* A parser for AND-joined comparisons of the Google filter languages. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "filter.h"

static const char *
skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* Reads the comparison operator at *p. */
static int
parse_op(const char **p, enum filter_op *op)
{
	static const struct {
		const char	*text;
		enum filter_op	 op;
	} ops[] = {
		{ ">=", FILTER_GE }, { "<=", FILTER_LE }, { "!=", FILTER_NE },
		{ "=", FILTER_EQ }, { ">", FILTER_GT }, { "<", FILTER_LT },
		{ ":", FILTER_HAS },
	};
	size_t i, n;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = strlen(ops[i].text);
		if (strncmp(*p, ops[i].text, n) == 0) {
			*op = ops[i].op;
			*p += n;
			return 0;
		}
	}
	return -1;
}

/* Reads a quoted or bare value at *p into out. */
static int
parse_value(const char **p, char *out, size_t size, char *err,
    size_t errsize)
{
	const char *s = *p;
	size_t n = 0;

	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\0') {
				snprintf(err, errsize, "unterminated string "
				    "in the filter");
				return -1;
			}
			if (*s == '\\' && s[1] != '\0')
				s++;
			if (n + 1 >= size)
				goto too_long;
			out[n++] = *s;
		}
		s++;
	} else {
		for (; *s != '\0' && !isspace((unsigned char)*s) &&
		    *s != '(' && *s != ')'; s++) {
			if (n + 1 >= size)
				goto too_long;
			out[n++] = *s;
		}
		if (n == 0) {
			snprintf(err, errsize, "a value is missing in the "
			    "filter");
			return -1;
		}
	}
	out[n] = '\0';
	*p = s;
	return 0;

too_long:
	snprintf(err, errsize, "a filter value is longer than %zu bytes",
	    size - 1);
	return -1;
}

int
filter_parse(const char *text, struct filter_term *terms, char *err,
    size_t size)
{
	const char *p = skip_space(text);
	struct filter_term *t;
	int n = 0;
	size_t len;

	while (*p != '\0') {
		if (n == FILTER_TERMS_MAX) {
			snprintf(err, size, "the filter has more than %d terms",
			    FILTER_TERMS_MAX);
			return -1;
		}
		t = &terms[n];
		len = 0;
		while (isalnum((unsigned char)p[len]) || p[len] == '.' ||
		    p[len] == '_' || p[len] == '-')
			len++;
		if (len == 0 || len >= sizeof(t->field)) {
			snprintf(err, size, "unsupported filter syntax at "
			    "'%.32s': expected FIELD OPERATOR VALUE terms "
			    "joined by AND", p);
			return -1;
		}
		memcpy(t->field, p, len);
		t->field[len] = '\0';
		p = skip_space(p + len);
		if (parse_op(&p, &t->op) == -1) {
			snprintf(err, size, "unsupported filter syntax at "
			    "'%.32s': expected one of = != < <= > >= :", p);
			return -1;
		}
		p = skip_space(p);
		if (parse_value(&p, t->value, sizeof(t->value), err,
		    size) == -1)
			return -1;
		n++;
		p = skip_space(p);
		if (*p == '\0')
			break;
		if (strncmp(p, "AND", 3) != 0 ||
		    !isspace((unsigned char)p[3])) {
			snprintf(err, size, "unsupported filter syntax at "
			    "'%.32s': only AND joins terms here", p);
			return -1;
		}
		p = skip_space(p + 3);
	}
	return n;
}

int
filter_match_string(const struct filter_term *t, const char *value)
{
	int c;

	if (value == NULL)
		value = "";
	if (t->op == FILTER_HAS)
		return strstr(value, t->value) != NULL;
	c = strcmp(value, t->value);
	switch (t->op) {
	case FILTER_EQ:
		return c == 0;
	case FILTER_NE:
		return c != 0;
	case FILTER_LT:
		return c < 0;
	case FILTER_LE:
		return c <= 0;
	case FILTER_GT:
		return c > 0;
	case FILTER_GE:
		return c >= 0;
	case FILTER_HAS:
		break;
	}
	return 0;
}
