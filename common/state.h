/*
 * Client of stated for worker threads: whole-object reads and writes of run
 * state, with generations as decimal strings. Names are relative to the
 * state bucket; run objects live under runs/<run_id>/<service_type>/.
 */
#ifndef STATE_H
#define STATE_H

#include <stddef.h>

#include <jansson.h>

#define STATE_GENERATION_MAX	32	/* bytes of a generation string */

/* The state files of a run, as the Perf Manager reads them. */
#define STATE_DEPLOY_MANIFEST	"deployment-manifest.json"
#define STATE_DEPLOY_STATUS	"deployment-status.json"
#define STATE_MEASURE_STATUS	"measurement-status.json"
#define STATE_RESULTS		"results.json"
/* The canonical deploy request; its create-only write claims the run. */
#define STATE_REQUEST		"request.json"

/* Returns 0 with *data (and generation, when not NULL) set, 1 when the
 * object does not exist (err says so), -1 on error. */
int	state_get(const char *object, json_t **data, char *generation,
	    char *err, size_t errlen);
/*
 * Writes data (borrowed). if_generation NULL writes unconditionally, "0"
 * creates only, any other value replaces only that generation. Returns 0
 * with the new generation stored when the buffer is not NULL, 1 when the
 * precondition failed, -1 on error.
 */
int	state_put(const char *object, json_t *data, const char *if_generation,
	    char *generation, char *err, size_t errlen);
int	state_list(const char *prefix, json_t **names, char *err,
	    size_t errlen);
/* Returns 0 when deleted, 1 when it did not exist, -1 on error. */
int	state_delete(const char *object, char *err, size_t errlen);
/* Writes runs/<run_id>/<service_type>/<file> into buf. */
int	state_run_object(char *buf, size_t size, const char *run_id,
	    const char *file);
/* Writes gs://<bucket>/runs/<run_id>/<service_type>/<file> into buf. */
int	state_run_url(char *buf, size_t size, const char *run_id,
	    const char *file);

#endif
