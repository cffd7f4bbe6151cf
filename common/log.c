/* Logging to stderr as JSON lines or plain text. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"

/* Longest message kept; a longer one is cut and marked. */
#define LOG_MESSAGE_MAX	4096

static const char *log_name = "perf-agent";
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static int log_debug_enabled;
static char log_run_id[128];
static char log_service[128];

void
log_init(const char *worker, enum log_format format, int debug)
{
	log_name = worker;
	log_debug_enabled = debug;
	if (format == LOG_FORMAT_AUTO)
		format = isatty(STDERR_FILENO) ? LOG_FORMAT_TEXT :
		    LOG_FORMAT_JSON;
	log_fmt = format;
}

int
log_format_parse(const char *name, enum log_format *format)
{
	if (strcmp(name, "auto") == 0)
		*format = LOG_FORMAT_AUTO;
	else if (strcmp(name, "json") == 0)
		*format = LOG_FORMAT_JSON;
	else if (strcmp(name, "text") == 0)
		*format = LOG_FORMAT_TEXT;
	else
		return -1;
	return 0;
}

void
log_set_context(const char *run_id, const char *service)
{
	snprintf(log_run_id, sizeof(log_run_id), "%s", run_id ? run_id : "");
	snprintf(log_service, sizeof(log_service), "%s",
	    service ? service : "");
}

const char *
log_worker(void)
{
	return log_name;
}

const char *
log_escape(char *buf, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	if (size == 0)
		return buf;
	for (i = 0; i < len && o + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
			continue;
		}
		if (o + 5 >= size)
			break;
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[c >> 4];
		buf[o++] = hex[c & 0xf];
	}
	buf[o] = '\0';
	return buf;
}

static void
log_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000));
}

/* Writes one line with a single write(2), so that lines of the several
 * processes sharing stderr never interleave. */
static void
log_write_line(const char *line, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, line, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		line += n;
		len -= (size_t)n;
	}
}

static void
log_emit_json(const char *severity, const char *message)
{
	char ts[64], *text, *line;
	json_t *o;
	size_t len;

	log_timestamp(ts, sizeof(ts));
	o = json_object();
	if (o == NULL)
		return;
	json_object_set_new(o, "severity", json_string(severity));
	/* json_string rejects invalid UTF-8; keep an escaped copy instead. */
	if (json_object_set_new(o, "message", json_string(message)) == -1) {
		char esc[LOG_MESSAGE_MAX];

		log_escape(esc, sizeof(esc), message, strlen(message));
		json_object_set_new(o, "message", json_string(esc));
	}
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "worker", json_string(log_name));
	if (log_run_id[0] != '\0')
		json_object_set_new(o, "run_id", json_string(log_run_id));
	if (log_service[0] != '\0')
		json_object_set_new(o, "service", json_string(log_service));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (text == NULL)
		return;
	/* The line feed goes in the same write as the line. */
	len = strlen(text);
	if ((line = realloc(text, len + 2)) == NULL) {
		free(text);
		return;
	}
	line[len] = '\n';
	line[len + 1] = '\0';
	log_write_line(line, len + 1);
	free(line);
}

static void
log_emit_text(const char *severity, const char *message)
{
	char ts[64], line[LOG_MESSAGE_MAX + 512], esc[LOG_MESSAGE_MAX];
	int n;

	log_timestamp(ts, sizeof(ts));
	log_escape(esc, sizeof(esc), message, strlen(message));
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: %s%s%s%s%s\n", ts,
	    log_name, (long)getpid(), severity, esc,
	    log_run_id[0] ? " run=" : "", log_run_id,
	    log_service[0] ? " service=" : "", log_service);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* Truncated: end the line with its line feed all the same. */
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	log_write_line(line, (size_t)n);
}

static void
log_vemit(const char *severity, int errnum, const char *fmt, va_list ap)
{
	char message[LOG_MESSAGE_MAX];
	int n;

	n = vsnprintf(message, sizeof(message), fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(message))
		memcpy(message + sizeof(message) - 5, "...", 4);
	if (errnum != 0) {
		size_t len = strlen(message);

		snprintf(message + len, sizeof(message) - len, ": %s",
		    strerror(errnum));
	}
	if (log_fmt == LOG_FORMAT_JSON)
		log_emit_json(severity, message);
	else
		log_emit_text(severity, message);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("WARNING", saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("WARNING", 0, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("ERROR", 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("INFO", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_enabled)
		return;
	va_start(ap, fmt);
	log_vemit("DEBUG", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("CRITICAL", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("CRITICAL", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
