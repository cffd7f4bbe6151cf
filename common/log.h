/*
 * Logging: one line per event on stderr. JSON objects with the fields Cloud
 * Logging lifts into the entry (severity, message, time) plus the worker
 * name and, when set, the run and service ids; a plain format on a terminal.
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_format {
	LOG_FORMAT_AUTO,	/* JSON unless stderr is a terminal */
	LOG_FORMAT_JSON,
	LOG_FORMAT_TEXT,
};

void	log_init(const char *worker, enum log_format format, int debug);
int	log_format_parse(const char *name, enum log_format *format);
void	log_set_context(const char *run_id, const char *service);
const char *log_worker(void);

void	log_warn(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* Copies at most size - 1 bytes of s into buf with control and non-ASCII
 * bytes escaped as \xNN, for putting untrusted text into a log line. */
const char *log_escape(char *buf, size_t size, const char *s, size_t len);

#endif
