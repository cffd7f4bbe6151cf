/*
 * Service types: measured's knowledge of one kind of service under test
 * (discord-webhook, and later rest-crud, grpc-unary, ...). Each type is one
 * table of operations. The contract runner, the cold-start and the
 * warm-request code reach the service only through that table, so adding a
 * type adds a table and touches none of them.
 *
 * Requests are built into caller-owned structs with fixed-size fields, so
 * that building one allocates nothing and can be repeated between timed
 * requests. A state returned by create() is used by one thread at a time.
 */
#ifndef SERVICETYPE_H
#define SERVICETYPE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <jansson.h>

#define SERVICETYPE_METHOD_MAX		16	/* bytes, with the NUL */
#define SERVICETYPE_PATH_MAX		512	/* bytes, with the NUL */
#define SERVICETYPE_HEADERS_MAX		16	/* headers of one request */
#define SERVICETYPE_HEADER_NAME_MAX	64	/* bytes, with the NUL */
#define SERVICETYPE_HEADER_VALUE_MAX	512	/* bytes, with the NUL */
#define SERVICETYPE_BODY_MAX		65536	/* bytes of a request body */
#define SERVICETYPE_SECRET_MAX		64	/* bytes of a per-run secret */

struct vector;

struct servicetype_header {
	char	name[SERVICETYPE_HEADER_NAME_MAX];
	char	value[SERVICETYPE_HEADER_VALUE_MAX];	/* may be empty */
};

/*
 * One HTTP/1.1 request without Host and Content-Length: the sender adds
 * those, since they depend on the target and on the body.
 */
struct servicetype_request {
	char			 method[SERVICETYPE_METHOD_MAX];
	char			 path[SERVICETYPE_PATH_MAX];	/* begins with / */
	struct servicetype_header headers[SERVICETYPE_HEADERS_MAX];
	size_t			 nheaders;
	unsigned char		 body[SERVICETYPE_BODY_MAX];
	size_t			 body_len;
};

/* A received response; the pointers refer to the caller's buffers. */
struct servicetype_response {
	int			 status;
	const char		*content_type;	/* NULL when absent */
	size_t			 content_type_len;
	const unsigned char	*body;
	size_t			 body_len;
};

/*
 * The operations of one service type. Every function returns 0 or a
 * pointer on success and -1 or NULL on failure. Those that take an err
 * buffer write the reason into it.
 */
struct servicetype {
	const char	*name;		/* as in SERVICE_TYPE, "discord-webhook" */
	size_t		 secret_len;	/* bytes of the per-run secret, or 0 */

	/*
	 * Creates the per-run state. With secret NULL it generates a new
	 * secret, for discord-webhook a new Ed25519 key pair. Otherwise
	 * secret_len bytes (from export_secret() or derived by the caller)
	 * restore the same one, so that a run resumed later signs with the
	 * key its services were deployed with.
	 */
	void	*(*create)(const unsigned char *secret, size_t secret_len,
		    char *err, size_t errlen);
	/* Frees the state and wipes its secret. NULL is ignored. */
	void	 (*destroy)(void *state);
	/* Copies the secret into out, which has room for size bytes. */
	int	 (*export_secret)(void *state, unsigned char *out,
		    size_t size);
	/*
	 * Adds to the JSON object env the environment variables every
	 * deployed implementation needs (name to string value), for
	 * discord-webhook DISCORD_PUBLIC_KEY as 64 hex characters.
	 */
	int	 (*service_env)(void *state, json_t *env);
	/*
	 * Fills req with the request sent for cold starts and warm
	 * requests, stamped with the wall-clock time now (seconds since
	 * the epoch). It allocates nothing.
	 */
	int	 (*test_request)(void *state, time_t now,
		    struct servicetype_request *req);
	/*
	 * Checks a response to the test request: 0 when the response is
	 * what the type requires, -1 with the reason in why. It allocates
	 * nothing.
	 */
	int	 (*check_response)(void *state,
		    const struct servicetype_response *resp, char *why,
		    size_t whylen);
	/*
	 * Fills req with the request of one contract test vector, signed
	 * in the vector's sign mode at the wall-clock time now.
	 */
	int	 (*prepare_vector)(void *state, const struct vector *vector,
		    time_t now, struct servicetype_request *req, char *err,
		    size_t errlen);
};

/* Returns the service type called name, or NULL when there is none. */
const struct servicetype *servicetype_find(const char *name);
/* Writes the names of all service types, separated by ", ", into buf. */
void	 servicetype_list(char *buf, size_t size);

/* Empties req and sets its method and path. */
int	 servicetype_request_init(struct servicetype_request *req,
	    const char *method, const char *path);
/* Appends a header; -1 when it does not fit or contains CR, LF or NUL. */
int	 servicetype_request_add_header(struct servicetype_request *req,
	    const char *name, const char *value);
/* Returns the value of the first header called name (any case), or NULL. */
const char *servicetype_request_header(const struct servicetype_request *req,
	    const char *name);
/* Copies len bytes into the body; -1 when they do not fit. */
int	 servicetype_request_set_body(struct servicetype_request *req,
	    const void *body, size_t len);
/*
 * Writes req as raw HTTP/1.1 bytes for host (the Host header value,
 * "name" or "name:port") into out. Adds Host, and Content-Length when
 * there is a body or the method is POST, PUT or PATCH. Returns the
 * length, or -1 when it does not fit in size bytes.
 */
ssize_t	 servicetype_format_http1(const struct servicetype_request *req,
	    const char *host, char *out, size_t size);

#endif
