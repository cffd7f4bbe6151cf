/* deployd: Cloud Run deploys, measure triggers and scale checks. */
#ifndef DEPLOYD_H
#define DEPLOYD_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "manifest.h"

/* Maximum duration of one service deploy, in seconds. */
#define DEPLOY_TIMEOUT_S	600
/* Services deployed at once. */
#define DEPLOY_PARALLEL		8
/* Seconds between writes of a deploy's status while it runs, and after
 * which a deploy of another agent instance with no write counts as
 * abandoned. */
#define DEPLOY_HEARTBEAT_S	20
#define DEPLOY_LEASE_S		120
/* Seconds between scans for abandoned deploys. */
#define DEPLOY_RESCAN_S		30

/* The implementations manifest, loaded at start. */
const struct manifest *deployd_manifest(void);

/*
 * Creates the trigger that calls /measure for the run delay_s seconds from
 * now: a Cloud Scheduler job (rounded up to the next minute, because
 * unix-cron has no seconds) or a Cloud Tasks task. Writes the time it will
 * fire into at and the job or task name into name. Returns 0, or -1 with
 * err set.
 */
int	trigger_create(const char *run_id, long delay_s, long round,
	    time_t *at, char *name, size_t namelen, char *err, size_t errlen);
/* Deletes the run's trigger; 0 deleted, 1 there was none, -1 error. */
int	trigger_delete(const char *run_id, long round, char *err,
	    size_t errlen);
/* Writes the scheduler job id of a run: <service-type>-measure-<run_id>. */
int	trigger_job_id(const char *run_id, char *buf, size_t size);

/* Thread bodies of the requests; each fills *reply or err. */
int	deploy_plan(json_t *body, json_t **reply, void **job, char *err,
	    size_t errlen, char *code, size_t codelen);
void	deploy_services(void *job);
void	deploy_job_free(void *job);
/* Thread body: lists into *(json_t **)arg the runs whose deploy is in
 * progress with its owner gone. */
void	deploy_list_abandoned(void *arg);
/* Thread body: resumes the deploy of run arg when its owner is gone. */
void	deploy_resume(void *arg);
int	deploy_cleanup(const char *run_id, json_t **reply, char *err,
	    size_t errlen, char *code, size_t codelen);

#endif
