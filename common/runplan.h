/*
 * The deployment plan of a run: one Cloud Run service per implementation,
 * test_matrix cell and (under the replicas strategy) cold-start replica,
 * with its service name, image, dimensions and Cloud Run Admin API v2
 * create body. Everything here is a pure function of the normalized
 * /deploy request and the manifest, so a retried deploy computes the same
 * plan and the same service names.
 */
#ifndef RUNPLAN_H
#define RUNPLAN_H

#include <stddef.h>

#include <jansson.h>

#include "manifest.h"

/* Cloud Run service ids have fewer than 50 characters. */
#define RUNPLAN_NAME_MAX	49
/* Base32 characters of the hash that ends every service name (40 bits). */
#define RUNPLAN_HASH_CHARS	8
/* Cloud Run label keys and values have at most 63 characters. */
#define RUNPLAN_LABEL_MAX	63
/* Services one run may have; each is a Cloud Run service, and a region
 * holds 1000. */
#define RUNPLAN_MAX_SERVICES	200
/* Environment variables the create body may carry. */
#define RUNPLAN_MAX_ENV		100

/* Values of the dimensions a request's test_matrix leaves out. */
#define RUNPLAN_DEFAULT_CPU			"1"
#define RUNPLAN_DEFAULT_MEMORY			"512Mi"
#define RUNPLAN_DEFAULT_STARTUP_BOOST		0
/* Cloud Run's own default for services with at least one CPU. */
#define RUNPLAN_DEFAULT_CONCURRENCY		80
#define RUNPLAN_DEFAULT_EXECUTION_ENVIRONMENT	"gen2"
/*
 * One instance at most: a cold-start sample is then unambiguous, because
 * the request that finds the service at zero instances can only be served
 * by the one instance it starts, never by a second one started in parallel
 * by Cloud Run's autoscaler.
 */
#define RUNPLAN_DEFAULT_MAX_INSTANCES		1

struct runplan_entry {
	char	 implementation[MANIFEST_NAME_MAX + 1];
	char	 service_name[RUNPLAN_NAME_MAX + 1];
	char	 image[512];
	char	 cpu[4];			/* "1", "2", "4" or "8" */
	char	 memory[16];			/* e.g. "512Mi" */
	int	 startup_boost;
	int	 concurrency;			/* requests per instance */
	char	 execution_environment[8];	/* "gen1" or "gen2" */
	int	 max_instances;
	int	 replica;	/* 1-based copy; 0 under the rounds strategy */
};

struct runplan {
	char			 run_id[64];
	char			 service_type[MANIFEST_NAME_MAX + 1];
	char			 run_label[RUNPLAN_LABEL_MAX + 1];
	size_t			 count;
	struct runplan_entry	*entries;
};

struct runplan_options {
	/* Image registry path, e.g. "us-central1-docker.pkg.dev/p/repo";
	 * required unless local is set. */
	const char	*registry;
	const char	*tag;		/* image tag; "latest" when NULL */
	int		 local;		/* images name local implementations */
};

int	 runplan_build(struct runplan *, const json_t *deploy,
	    const struct manifest *, const struct runplan_options *,
	    char *err, size_t errlen);
void	 runplan_free(struct runplan *);

json_t	*runplan_dimensions(const struct runplan_entry *);
json_t	*runplan_entry_json(const struct runplan_entry *);
json_t	*runplan_services_json(const struct runplan *);
json_t	*runplan_create_body(const struct runplan *,
	    const struct runplan_entry *, const json_t *env, char *err,
	    size_t errlen);

int	 runplan_service_name(char *out, size_t outlen,
	    const char *service_type, const char *implementation,
	    const char *run_id, const char *cell_key, const char *cell_suffix);
int	 runplan_label_value(char *out, size_t outlen, const char *value);
int	 runplan_memory_mib(const char *memory, long *mib);
int	 runplan_check_resources(const char *cpu, long memory_mib,
	    const char *execution_environment, char *why, size_t whylen);

#endif
