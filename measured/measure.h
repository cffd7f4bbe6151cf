/*
 * The measure phase of one run: the claim on measurement-status.json that
 * makes sure only one process measures a run at a time, and the job that
 * takes the cold samples, contract checks and warm requests.
 *
 * With the rounds strategy every claim is one round: one cold sample per
 * service (after checking that the service has zero instances), plus the
 * contract and warm requests in the first round; then the next round is
 * scheduled, until every cell has its cold_start_iterations samples. With
 * the replicas strategy one claim samples every replica once.
 *
 * Progress is written after every step, with generation-matched writes, so
 * a process that dies leaves a state that the next claim resumes without
 * measuring any recorded sample again.
 */
#ifndef MEASURE_H
#define MEASURE_H

#include <stddef.h>

#include <jansson.h>

/* A claim whose heartbeat is older than this is free, in seconds. */
#define MEASURE_LEASE_S		120
/* Interval of the claim's heartbeat writes, in seconds. */
#define MEASURE_HEARTBEAT_S	20
/* Seconds between scans for runs to resume or to start, at most; the
 * scans run at least once per TRIGGER_GRACE. */
#define MEASURE_RESCAN_S	30

enum measure_claim {
	CLAIM_STARTED,		/* *job is ready to run */
	CLAIM_BUSY,		/* another process is measuring the run */
	CLAIM_COMPLETED,
	CLAIM_FAILED,
	CLAIM_NOT_FOUND,	/* the run was never deployed */
	CLAIM_ERROR,
};

/* Reason for a claim. */
enum measure_why {
	WHY_TRIGGER,	/* /measure: start the next round */
	WHY_SCAN,	/* a scan: resume a run whose owner is gone, or
			 * start a round TRIGGER_GRACE seconds late */
	WHY_AGAIN,	/* a /measure came while the run was measured: start
			 * the next round only if it is due */
};

struct measure_job;

/*
 * Claims the next piece of work of a run. Fills *reply with the body of
 * the /measure response ({run_id, status, results_url, ...}) in every case
 * but CLAIM_ERROR, where err describes the failure.
 */
enum measure_claim measure_claim(const char *run_id, enum measure_why why,
	    struct measure_job **job, json_t **reply, char *err,
	    size_t errlen);
/* Runs the claimed work; returns when it is done or *stop is set. */
void	 measure_run(struct measure_job *job, volatile int *stop);
/* Notes the process's start; call it once, before any claim. */
void	 measure_init(void);
/* Returns 1 when the run gave its claim back because its deploy still
 * runs: claim it again in MEASURE_DEFER_S seconds. */
int	 measure_job_deferred(const struct measure_job *job);
#define MEASURE_DEFER_S		5
void	 measure_job_free(struct measure_job *job);
const char *measure_job_run_id(const struct measure_job *job);

#endif
