/*
 * Clients of the Google APIs perf-agent calls, on libcurl: Cloud Run Admin
 * API v2, Cloud Storage JSON API v1, Cloud Scheduler v1, Cloud Tasks v2,
 * Cloud Monitoring v3, Cloud Logging v2 and the metadata server. Endpoints
 * come from the settings, so the same calls reach Google in production and
 * localcloud on loopback.
 *
 * Every call is synchronous and may run on any thread once gcp_init has
 * returned. It returns 0 on success, a positive value documented at the
 * function for an expected outcome (not found, already exists, precondition
 * failed), and -1 on error with the struct gcp_error filled in and a warning
 * logged. Each API request carries the metadata server's access token,
 * Cloud Storage emulators included, so a metadata server must be reachable.
 *
 * Retries: reads, deletes, creates by explicit name and uploads with a
 * generation precondition are retried on 408, 429, 5xx and transport errors,
 * GCP_MAX_ATTEMPTS times in all, with exponential backoff and jitter. Other
 * calls are retried only when the connection failed, so nothing was sent.
 * A 401 makes any call fetch a new access token and try once more.
 */
#ifndef GCP_H
#define GCP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* Attempts per request, the first included. */
#define GCP_MAX_ATTEMPTS	5
/* Backoff before retry n (0-based) is in [d/2, d] with
 * d = min(GCP_BACKOFF_FIRST_MS << n, GCP_BACKOFF_MAX_MS). */
#define GCP_BACKOFF_FIRST_MS	200
#define GCP_BACKOFF_MAX_MS	5000
/* Default timeouts of one HTTP attempt, in milliseconds. */
#define GCP_CONNECT_TIMEOUT_MS	10000
#define GCP_TOTAL_TIMEOUT_MS	30000
/* Largest response body accepted, in bytes; also the gcs_download cap. */
#define GCP_RESPONSE_MAX	(16 * 1024 * 1024)
/* Cached tokens are refreshed this many seconds before they expire. */
#define GCP_TOKEN_MARGIN_S	300

/*
 * Why a call failed. status is the canonical code name the API returned
 * (NOT_FOUND, PERMISSION_DENIED, ...) or the Cloud Storage error reason
 * (conditionNotMet, ...). When no usable response arrived, it is one of
 * TRANSPORT (connection or TLS failure), TIMEOUT, RESPONSE_TOO_LARGE,
 * INVALID_RESPONSE (a 2xx body that is not what the API documents),
 * INVALID_ARGUMENT (rejected before sending, http_status 0) and INTERNAL
 * (out of memory).
 */
struct gcp_error {
	long	http_status;	/* 0 when no HTTP response arrived */
	char	status[48];
	char	message[512];
};

/*
 * Initializes libcurl and reads the settings (endpoints, project, region,
 * queue); call it from the main thread after settings_load and before any
 * thread makes a call. gcp_cleanup frees the token caches and the calling
 * thread's connection. Other threads' connections are freed when they
 * exit, which must happen before gcp_cleanup.
 */
int	gcp_init(void);
void	gcp_cleanup(void);
/* Once stopping() returns non-zero, waits for a long-running operation
 * end early with status CANCELLED. NULL: never. */
void	gcp_set_stop(int (*stopping)(void));
/* Override the per-attempt timeouts, in milliseconds (0 keeps one), and
 * the number of attempts per request (1 disables retries), for every later
 * call. Call them before starting threads. */
void	gcp_set_timeouts(long connect_ms, long total_ms);
void	gcp_set_max_attempts(int attempts);

/*
 * Cloud Run Admin API v2, on projects/{project}/locations/{region}.
 * service is sent as given, so resources.cpuIdle stays as the caller set
 * it. run_create_service returns 1 when the service already exists. When a
 * retried create finds the service created by an earlier attempt whose
 * response was lost, it returns 0 with *operation NULL, and the caller
 * reads the service to check it. run_wait_operation polls until the
 * operation is done or timeout_s seconds have passed (-1, status TIMEOUT).
 * An operation that finished with an error returns -1 with its code's
 * canonical name in status and the operation in *operation.
 */
int	run_create_service(const char *service_id, json_t *service,
	    json_t **operation, struct gcp_error *);
int	run_get_operation(const char *operation_name, json_t **operation,
	    struct gcp_error *);
int	run_wait_operation(const char *operation_name, int timeout_s,
	    json_t **operation, struct gcp_error *);
int	run_get_service(const char *service_id, json_t **service,
	    struct gcp_error *);			/* 1 = NOT_FOUND */
int	run_delete_service(const char *service_id, json_t **operation,
	    struct gcp_error *);			/* 1 = NOT_FOUND */
/* Returns an array of every service, following nextPageToken. */
int	run_list_services(json_t **services, struct gcp_error *);
/* projects/P/locations/L/services/ID, malloc'd; NULL if ID is invalid. */
char	*run_service_name(const char *service_id);

/*
 * Cloud Storage JSON API v1. if_generation_match is -1 for no
 * precondition, 0 to create only when no live object exists, or the live
 * generation a compare-and-swap expects.
 *
 * gcs_download returns 1 when the object or bucket does not exist. *data
 * is malloc'd with a NUL after the len bytes, and at most GCP_RESPONSE_MAX
 * bytes long (longer objects fail with RESPONSE_TOO_LARGE). generation may
 * be NULL in both calls.
 * gcs_upload returns 1 when the precondition failed (HTTP 412). After a
 * retry, that may mean that an earlier attempt succeeded, so the caller
 * re-reads the object. gcs_delete returns 1 when the object does not exist
 * and 2 when the precondition failed.
 */
int	gcs_download(const char *bucket, const char *object, char **data,
	    size_t *len, int64_t *generation, struct gcp_error *);
int	gcs_upload(const char *bucket, const char *object,
	    const char *content_type, const void *data, size_t len,
	    int64_t if_generation_match, int64_t *generation,
	    struct gcp_error *);
/* Returns an array of the names starting with prefix (NULL for all). A
 * bucket that does not exist fails with http_status 404 and is not
 * logged: for a bucket created on first write, it means "empty". */
int	gcs_list(const char *bucket, const char *prefix, json_t **names,
	    struct gcp_error *);
int	gcs_delete(const char *bucket, const char *object,
	    int64_t if_generation_match, struct gcp_error *);

/*
 * Cloud Scheduler v1. The job carries its full name (see
 * scheduler_job_name). A create returns 1 when a job of that name exists,
 * and 0 when a retry found the job that an earlier attempt created.
 */
int	scheduler_create_job(json_t *job, struct gcp_error *);
int	scheduler_get_job(const char *job_id, json_t **job,
	    struct gcp_error *);			/* 1 = NOT_FOUND */
int	scheduler_delete_job(const char *job_id,
	    struct gcp_error *);			/* 1 = NOT_FOUND */
/* projects/P/locations/L/jobs/ID, malloc'd; NULL if ID is invalid. */
char	*scheduler_job_name(const char *job_id);

/*
 * Cloud Tasks v2, on the queue of the tasks-queue setting. The create body
 * is {"task": task}. A task with a name is retried like a create by name.
 * It returns 1 when that name exists or was used within the deduplication
 * window (about an hour). A task without a name is never retried once
 * sent.
 */
int	tasks_create_task(json_t *task, struct gcp_error *);
int	tasks_delete_task(const char *task_id,
	    struct gcp_error *);			/* 1 = NOT_FOUND */
/* projects/P/locations/L/queues/Q/tasks/ID, malloc'd; NULL if invalid. */
char	*tasks_task_name(const char *task_id);

/*
 * Cloud Monitoring v3: the run.googleapis.com/container/instance_count of
 * one Cloud Run service by state (active, idle), summed over its revisions,
 * from the newest point in [start, end]. Each point is the maximum over a
 * 60 s alignment period. Returns 1, with both counts 0, when the window
 * contains no points. The metric lags by minutes, so no points is not proof
 * of zero instances.
 */
int	monitoring_instance_count(const char *service, time_t start,
	    time_t end, long *active, long *idle, struct gcp_error *);

/*
 * Cloud Logging v2 entries:list: the request log entries of one Cloud Run
 * service since a time, as an array of {"instance_id", "timestamp"}, newest
 * first, at most GCP_LOG_ENTRIES_MAX of them.
 */
#define GCP_LOG_ENTRIES_MAX	5000
int	logging_request_instances(const char *service, time_t since,
	    json_t **entries, struct gcp_error *);

/*
 * Metadata server. Tokens are cached and fetched again GCP_TOKEN_MARGIN_S
 * seconds before they expire (at half their lifetime when that is shorter
 * than twice the margin). They never reach a log line.
 * metadata_access_token fails with INVALID_ARGUMENT when buf is too small;
 * *token of metadata_identity_token is malloc'd, and it is fetched anew
 * when the cached one expires in less than min_valid_s seconds; *valid_s
 * (may be NULL) gets the seconds it has left, or -1 when the metadata
 * server gave no expiry.
 */
int	metadata_access_token(char *buf, size_t size, struct gcp_error *);
int	metadata_identity_token(const char *audience, long min_valid_s,
	    char **token, long *valid_s, struct gcp_error *);
int	metadata_project_id(char *buf, size_t size, struct gcp_error *);

/*
 * Pure helpers, exported for the tests.
 *
 * gcp_escape percent-encodes every byte but the unreserved ones
 * (A-Z a-z 0-9 - . _ ~), so "/" becomes %2F; it returns a malloc'd string.
 * gcp_endpoint_url copies an endpoint setting into buf without a trailing
 * "/", with http:// in front when it has no scheme (STORAGE_EMULATOR_HOST
 * may be host:port). gcp_backoff_ms is the wait before retry n (0-based)
 * given a random number.
 */
char	*gcp_escape(const char *s);
int	 gcp_endpoint_url(const char *value, char *buf, size_t size);
long	 gcp_backoff_ms(int retry, uint32_t random);
/* Name rules: Cloud Run service ids, Scheduler job and Tasks task ids,
 * bucket names, object names, and relative resource names such as
 * projects/P/locations/L/operations/OP. Each returns 1 when valid. */
int	 gcp_valid_service_id(const char *);
int	 gcp_valid_job_id(const char *);
int	 gcp_valid_task_id(const char *);
int	 gcp_valid_bucket(const char *);
int	 gcp_valid_object_name(const char *);
int	 gcp_valid_resource_name(const char *);
/* The canonical name ("NOT_FOUND") and HTTP status of a google.rpc.Code. */
const char *gcp_code_name(long code);
long	 gcp_code_http_status(long code);
/* RFC 3339 UTC, "2026-01-02T03:04:05Z"; returns -1 if buf is too small. */
int	 gcp_format_time(time_t, char *buf, size_t size);
/* Reads RFC 3339 with any fraction (nanoseconds kept) and a Z or +hh:mm
 * offset; returns -1 on anything else. */
int	 gcp_parse_time(const char *text, struct timespec *out);

#endif
