/* Service bodies: field checks and the revision a template describes. */
#ifndef LOCALCLOUD_REVISION_H
#define LOCALCLOUD_REVISION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct lc;
struct run_revision;

/* Checks the types and values of the Service fields localcloud reads.
 * Returns -1 with a message for a 400 INVALID_ARGUMENT in err. */
int	revision_validate(json_t *service, char *err, size_t size);

/* Builds the revision of a validated Service, or returns NULL with the
 * condition reason (CONTAINER_MISSING ...) and message of the failure. */
struct run_revision *revision_build(struct lc *, json_t *service,
	    const char *name, char *reason, size_t reason_size, char *msg,
	    size_t msg_size);

/* Parse Kubernetes quantities: CPU ("1", "0.5", "500m") to millicpus and
 * memory ("512Mi", "2Gi", "1G", bytes) to bytes. */
int	revision_parse_cpu(const char *text, unsigned long *millis);
int	revision_parse_memory(const char *text, uint64_t *bytes);

#endif
