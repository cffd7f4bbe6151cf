/*
 * Services on disk: one JSON file per service under <data_dir>/run/services,
 * written to a temporary file and renamed, so a crash leaves the old or the
 * new version, never half of one.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "localcloud.h"
#include "invoker.h"
#include "run.h"
#include "runstore.h"

/* Writes the path of svc's file into buf. */
static int
service_path(const struct run_service *svc, const char *suffix, char *buf,
    size_t size)
{
	const struct run_state *rs = svc->lc->run;
	int n;

	n = snprintf(buf, size, "%s/services/%s.%s.%s.json%s", rs->dir,
	    svc->project, svc->location, svc->id, suffix);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Adds key: value when value is not NULL. */
static void
set_string(json_t *obj, const char *key, const char *value)
{
	if (value != NULL)
		json_object_set_new(obj, key, json_string(value));
}

static json_t *
service_record(const struct run_service *svc)
{
	json_t *rec, *cond;

	rec = json_pack("{s:s,s:s,s:s,s:s,s:O,s:i,s:I,s:I,s:I,s:s,s:s,s:I}",
	    "project", svc->project, "location", svc->location, "id", svc->id,
	    "uid", svc->uid, "spec", svc->spec, "port", (int)svc->port,
	    "generation", (json_int_t)svc->generation,
	    "observedGeneration", (json_int_t)svc->observed_generation,
	    "revisionSeq", (json_int_t)svc->revision_seq,
	    "createTime", svc->create_time, "updateTime", svc->update_time,
	    "iamVersion", (json_int_t)svc->iam_version);
	cond = json_pack("{s:s,s:s}", "state", svc->cond_state, "time",
	    svc->cond_time);
	if (rec == NULL || cond == NULL) {
		json_decref(rec);
		json_decref(cond);
		return NULL;
	}
	set_string(cond, "reason", svc->cond_reason);
	set_string(cond, "message", svc->cond_message);
	json_object_set_new(rec, "condition", cond);
	set_string(rec, "latestCreatedRevision", svc->latest_created);
	set_string(rec, "latestReadyRevision", svc->latest_ready);
	if (svc->ready_spec != NULL)
		json_object_set(rec, "readySpec", svc->ready_spec);
	if (svc->iam_policy != NULL)
		json_object_set(rec, "iamPolicy", svc->iam_policy);
	return rec;
}

int
runstore_save(const struct run_service *svc)
{
	char path[LC_PATH_MAX], tmp[LC_PATH_MAX];
	json_t *rec;
	FILE *f;
	int rc = -1;

	if (service_path(svc, "", path, sizeof(path)) == -1 ||
	    service_path(svc, ".tmp", tmp, sizeof(tmp)) == -1) {
		log_warnx("service %s: the state file path is too long",
		    svc->name);
		return -1;
	}
	if ((rec = service_record(svc)) == NULL) {
		log_warnx("service %s: out of memory saving it", svc->name);
		return -1;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("cannot write %s", tmp);
		goto out;
	}
	if (json_dumpf(rec, f, JSON_INDENT(1)) == -1 || fflush(f) == EOF ||
	    fsync(fileno(f)) == -1) {
		log_warn("cannot write %s", tmp);
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		log_warn("cannot replace %s", path);
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	json_decref(rec);
	return rc;
}

int
runstore_remove(const struct run_service *svc)
{
	char path[LC_PATH_MAX];

	if (service_path(svc, "", path, sizeof(path)) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("cannot remove %s", path);
		return -1;
	}
	return 0;
}

/* Returns the constant for a saved condition state, or NULL. */
static const char *
known_state(const char *s)
{
	static const char *const states[] = { "CONDITION_PENDING",
	    "CONDITION_RECONCILING", "CONDITION_SUCCEEDED",
	    "CONDITION_FAILED", NULL };
	int i;

	for (i = 0; s != NULL && states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return states[i];
	return NULL;
}

/* Copies a string field into a fixed buffer; empty when absent. */
static void
copy_text(const json_t *obj, const char *key, char *buf, size_t size)
{
	const char *s = json_string_value(json_object_get(obj, key));

	snprintf(buf, size, "%s", s != NULL ? s : "");
}

/* Duplicates a string field, or returns NULL when absent. */
static char *
dup_text(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? strdup(s) : NULL;
}

/*
 * Opens a restored service's port: the same port as before, now or once
 * another program frees it. A port that cannot become free, because it
 * is localcloud's own API port or the bind failed for another reason
 * than a holder, moves the service to a new port and uri.
 */
static int
service_open(struct lc *lc, struct run_service *svc, uint16_t port)
{
	const char *reason;

	if (dataplane_open(svc, port) == 0)
		return 0;
	if (errno == EADDRINUSE && port != lc->port)
		return dataplane_open_later(svc, port);
	reason = errno == EADDRINUSE ? "it is localcloud's API port" :
	    strerror(errno);
	if (dataplane_open(svc, 0) == -1) {
		log_warn("service %s: cannot open a port", svc->name);
		return -1;
	}
	log_warnx("service %s: cannot listen on port %u (%s); moved to port "
	    "%u, so its uri changed", svc->name, port, reason, svc->port);
	(void)runstore_save(svc);
	return 0;
}

/* Rebuilds one service from its record and opens its port again. */
static int
service_load(struct lc *lc, const char *path)
{
	struct run_state *rs = lc->run;
	struct run_service *svc;
	json_error_t err;
	json_t *rec, *cond;
	const char *project, *location, *id, *state;
	json_int_t port;

	if ((rec = json_load_file(path, 0, &err)) == NULL) {
		log_warnx("skipping %s: %s at line %d", path, err.text,
		    err.line);
		return -1;
	}
	project = json_string_value(json_object_get(rec, "project"));
	location = json_string_value(json_object_get(rec, "location"));
	id = json_string_value(json_object_get(rec, "id"));
	port = json_integer_value(json_object_get(rec, "port"));
	cond = json_object_get(rec, "condition");
	state = known_state(json_string_value(json_object_get(cond, "state")));
	if (project == NULL || location == NULL || id == NULL ||
	    !run_service_id_ok(id) || port <= 0 || port > 65535 ||
	    state == NULL || !json_is_object(json_object_get(rec, "spec"))) {
		log_warnx("skipping %s: not a saved service", path);
		json_decref(rec);
		return -1;
	}
	if ((svc = run_service_new(lc, project, location, id,
	    json_object_get(rec, "spec"))) == NULL) {
		json_decref(rec);
		return -1;
	}
	copy_text(rec, "uid", svc->uid, sizeof(svc->uid));
	copy_text(rec, "createTime", svc->create_time,
	    sizeof(svc->create_time));
	copy_text(rec, "updateTime", svc->update_time,
	    sizeof(svc->update_time));
	copy_text(cond, "time", svc->cond_time, sizeof(svc->cond_time));
	svc->generation = (unsigned long)json_integer_value(
	    json_object_get(rec, "generation"));
	svc->observed_generation = (unsigned long)json_integer_value(
	    json_object_get(rec, "observedGeneration"));
	svc->revision_seq = (unsigned long)json_integer_value(
	    json_object_get(rec, "revisionSeq"));
	svc->iam_version = (unsigned long)json_integer_value(
	    json_object_get(rec, "iamVersion"));
	svc->latest_created = dup_text(rec, "latestCreatedRevision");
	svc->latest_ready = dup_text(rec, "latestReadyRevision");
	svc->cond_state = state;
	svc->cond_reason = dup_text(cond, "reason");
	svc->cond_message = dup_text(cond, "message");
	if (json_is_object(json_object_get(rec, "readySpec")))
		svc->ready_spec = json_incref(json_object_get(rec,
		    "readySpec"));
	if (json_is_object(json_object_get(rec, "iamPolicy")))
		svc->iam_policy = json_incref(json_object_get(rec,
		    "iamPolicy"));
	invoker_update(svc);
	json_decref(rec);

	if (service_open(lc, svc, (uint16_t)port) == -1) {
		run_service_free(svc);
		return -1;
	}
	TAILQ_INSERT_TAIL(&rs->services, svc, entry);
	return 0;
}

int
runstore_load(struct lc *lc)
{
	struct run_state *rs = lc->run;
	struct run_service *svc;
	char dir[LC_PATH_MAX], path[LC_PATH_MAX];
	struct dirent *de;
	size_t len;
	DIR *d;

	if (snprintf(rs->dir, sizeof(rs->dir), "%s/run", lc->data_dir) >=
	    (int)sizeof(rs->dir) || snprintf(dir, sizeof(dir), "%s/services",
	    rs->dir) >= (int)sizeof(dir)) {
		log_warnx("the data dir path is too long");
		return -1;
	}
	if ((mkdir(rs->dir, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(dir, 0700) == -1 && errno != EEXIST)) {
		log_warn("cannot create %s", dir);
		return -1;
	}
	if ((d = opendir(dir)) == NULL) {
		log_warn("cannot read %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		(void)service_load(lc, path);
	}
	closedir(d);

	/*
	 * Deploys and instances start only once every saved port is open or
	 * awaited, so that an instance cannot take the port of a service
	 * read after it.
	 */
	TAILQ_FOREACH(svc, &rs->services, entry) {
		log_info("service %s restored at port %u", svc->name,
		    svc->port);
		run_service_restore(svc, svc->cond_state ==
		    known_state("CONDITION_RECONCILING") || svc->cond_state ==
		    known_state("CONDITION_PENDING"));
	}
	return 0;
}
