/*
 * Cloud Run emulation shared by run.c (Admin API v2), dataplane.c (service
 * ports and instances), tls.c, monitoring.c and logging.c.
 */
#ifndef LOCALCLOUD_RUN_H
#define LOCALCLOUD_RUN_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "localcloud.h"

/* Maximum length of a service id in Cloud Run, in characters. */
#define RUN_SERVICE_ID_MAX	49
#define RUN_NAME_MAX		512
#define RUN_INSTANCE_ID_LEN	32	/* hex digits */

/* The start command and limits of one revision's instances, shared by
 * reference count between the service and the instances it started. */
struct run_revision {
	unsigned int	 refs;
	char		*name;		/* short name, "svc-00001-abc" */
	char		*run_path;	/* the implementation's executable */
	char		*work_dir;	/* its directory */
	char		**env;		/* "NAME=VALUE", NULL-terminated */
	unsigned int	 concurrency;	/* connections per instance */
	unsigned int	 max_instances;
	unsigned int	 cpus;		/* affinity size; 0 for no limit */
	uint64_t	 memory_bytes;	/* RLIMIT_DATA; 0 for no limit */
	int		 h2c;		/* container port named "h2c" */
};

struct dp_instance;
struct dp_conn;
TAILQ_HEAD(dp_instance_list, dp_instance);
TAILQ_HEAD(dp_conn_list, dp_conn);

struct run_deploy;

struct run_service {
	TAILQ_ENTRY(run_service) entry;
	struct lc	*lc;
	char		*name;		/* projects/P/locations/L/services/ID */
	char		*project;
	char		*location;
	char		*id;
	char		 uid[37];
	json_t		*spec;		/* the fields the client set */
	json_t		*ready_spec;	/* spec of the serving revision */
	json_t		*iam_policy;	/* NULL until setIamPolicy */
	unsigned long	 iam_version;	/* bumped by setIamPolicy, the etag */
	int		 invoker_public; /* anyone may invoke; invoker.c */
	char		 create_time[40];
	char		 update_time[40];
	unsigned long	 generation;
	unsigned long	 observed_generation;
	unsigned long	 revision_seq;	/* counter in generated revision names */
	char		*latest_created;	/* short revision names */
	char		*latest_ready;
	const char	*cond_state;	/* terminalCondition.state */
	char		*cond_reason;
	char		*cond_message;
	char		 cond_time[40];
	struct run_deploy *deploy;	/* the deploy in progress, or NULL */
	uint16_t	 port;		/* data plane port on 127.0.0.1 */

	/* Data plane state (dataplane.c). */
	struct run_revision	*serving;	/* NULL: nothing ready */
	struct evconnlistener	*listener;
	struct event		*rebind;	/* retries a taken port */
	unsigned int		 rebind_tries;
	struct dp_instance_list	 instances;
	struct dp_conn_list	 conns;
};
TAILQ_HEAD(run_service_list, run_service);

struct run_operation;
TAILQ_HEAD(run_operation_list, run_operation);

/* The Run module's state, in lc->run. */
struct run_state {
	struct run_service_list	 services;
	struct run_operation_list operations;
	unsigned int		 noperations;
	char			 dir[LC_PATH_MAX];	/* <data_dir>/run */
};

int	 run_service_id_ok(const char *id);
struct run_service *run_service_find(struct lc *, const char *name);
struct run_service *run_service_new(struct lc *, const char *project,
	    const char *location, const char *id, json_t *spec);
void	 run_service_free(struct run_service *);
json_t	*run_service_json(const struct run_service *);
void	 run_service_uri(const struct run_service *, char *buf, size_t size);
void	 run_service_restore(struct run_service *, int was_reconciling);

struct run_revision *run_revision_ref(struct run_revision *);
void	 run_revision_unref(struct run_revision *);

/* Counts of a service's instances by the instance_count states. */
struct dp_counts {
	unsigned int	active;		/* starting, or serving a connection */
	unsigned int	idle;		/* running with no connection */
};

/* Called once when a probe instance listens (ok 1) or fails (ok 0). */
typedef void (*dp_probe_cb)(void *arg, int ok, const char *reason,
    const char *message);

int	 dataplane_init(struct lc *);
void	 dataplane_shutdown(struct lc *);
int	 dataplane_open(struct run_service *, uint16_t port);
int	 dataplane_open_later(struct run_service *, uint16_t port);
void	 dataplane_close(struct run_service *);
int	 dataplane_probe(struct run_service *, struct run_revision *,
	    dp_probe_cb, void *arg, char *msg, size_t msg_size);
void	 dataplane_cancel_probe(struct run_service *, void *arg);
void	 dataplane_serve(struct run_service *, struct run_revision *);
void	 dataplane_counts(struct run_service *, struct dp_counts *);

/* tls.c: the CA in the data dir and the server context of service ports. */
int	 tls_init(struct lc *);
void	 tls_shutdown(struct lc *);
SSL_CTX	*tls_server_ctx(struct lc *, int h2);

/* One request the data plane forwarded, for Cloud Logging. */
struct log_request {
	struct timespec	 time;		/* request start, wall clock */
	const char	*project;
	const char	*location;
	const char	*service;
	const char	*revision;
	const char	*instance_id;
	const char	*method;	/* NULL when the bytes were not HTTP/1 */
	const char	*url;		/* as requested, scheme://host/path */
	const char	*user_agent;
	const char	*remote_ip;
	const char	*protocol;	/* "HTTP/1.1", "HTTP/2" ... */
	int		 status;	/* 0 when no response was seen */
	uint64_t	 request_size;	/* bytes */
	uint64_t	 response_size;	/* bytes */
	uint64_t	 latency_us;
};

void	 logging_add_request(struct lc *, const struct log_request *);

#endif
