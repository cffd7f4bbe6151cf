/*
 * The table of service types and the request helpers they share.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "discord.h"
#include "servicetype.h"

static const struct servicetype *const servicetypes[] = {
	&discord_servicetype,
};

#define NSERVICETYPES (sizeof(servicetypes) / sizeof(servicetypes[0]))

const struct servicetype *
servicetype_find(const char *name)
{
	size_t i;

	for (i = 0; i < NSERVICETYPES; i++)
		if (strcmp(servicetypes[i]->name, name) == 0)
			return servicetypes[i];
	return NULL;
}

void
servicetype_list(char *buf, size_t size)
{
	size_t i, used = 0;
	int n;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (i = 0; i < NSERVICETYPES; i++) {
		n = snprintf(buf + used, size - used, "%s%s",
		    i > 0 ? ", " : "", servicetypes[i]->name);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

/* Copies s into dst if it fits and contains no CR, LF or control byte. */
static int
copy_field(char *dst, size_t size, const char *s)
{
	size_t i, len = strlen(s);

	if (len >= size)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	memcpy(dst, s, len + 1);
	return 0;
}

int
servicetype_request_init(struct servicetype_request *req, const char *method,
    const char *path)
{
	req->nheaders = 0;
	req->body_len = 0;
	if (copy_field(req->method, sizeof(req->method), method) == -1 ||
	    method[0] == '\0' || strpbrk(method, " \t") != NULL)
		return -1;
	if (copy_field(req->path, sizeof(req->path), path) == -1 ||
	    path[0] != '/' || strpbrk(path, " \t") != NULL)
		return -1;
	return 0;
}

int
servicetype_request_add_header(struct servicetype_request *req,
    const char *name, const char *value)
{
	struct servicetype_header *h;

	if (req->nheaders >= SERVICETYPE_HEADERS_MAX)
		return -1;
	h = &req->headers[req->nheaders];
	if (name[0] == '\0' || strpbrk(name, " \t:") != NULL ||
	    copy_field(h->name, sizeof(h->name), name) == -1 ||
	    copy_field(h->value, sizeof(h->value), value) == -1)
		return -1;
	req->nheaders++;
	return 0;
}

const char *
servicetype_request_header(const struct servicetype_request *req,
    const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

int
servicetype_request_set_body(struct servicetype_request *req,
    const void *body, size_t len)
{
	if (len > sizeof(req->body))
		return -1;
	if (len > 0)
		memcpy(req->body, body, len);
	req->body_len = len;
	return 0;
}

/* Appends the formatted text to out at *used; -1 when it does not fit. */
static int
append(char *out, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
append(char *out, size_t size, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

ssize_t
servicetype_format_http1(const struct servicetype_request *req,
    const char *host, char *out, size_t size)
{
	size_t i, used = 0;
	int length_needed;

	if (size == 0)
		return -1;
	if (append(out, size, &used, "%s %s HTTP/1.1\r\nHost: %s\r\n",
	    req->method, req->path, host) == -1)
		return -1;
	for (i = 0; i < req->nheaders; i++)
		if (append(out, size, &used, "%s:%s%s\r\n",
		    req->headers[i].name,
		    req->headers[i].value[0] != '\0' ? " " : "",
		    req->headers[i].value) == -1)
			return -1;

	length_needed = req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
	if (length_needed && append(out, size, &used,
	    "Content-Length: %zu\r\n", req->body_len) == -1)
		return -1;
	if (append(out, size, &used, "\r\n") == -1)
		return -1;

	/* The body may hold NUL bytes, so it is copied, not formatted. */
	if (req->body_len >= size - used)
		return -1;
	memcpy(out + used, req->body, req->body_len);
	used += req->body_len;
	out[used] = '\0';
	return (ssize_t)used;
}
