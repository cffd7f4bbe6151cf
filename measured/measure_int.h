/* State shared by the parts of the measure job. */
#ifndef MEASURE_INT_H
#define MEASURE_INT_H

#include <pthread.h>

#include <jansson.h>

#include "servicetype.h"
#include "state.h"
#include "vectors.h"

/* Rounds a run may take beyond cold_start_iterations, to replace samples
 * that were discarded as not cold. */
#define MEASURE_EXTRA_ROUNDS	3
/* Time a cold request may take, connect included, in ms. */
#define MEASURE_COLD_TIMEOUT_MS	120000
/* Time a warm request may take, in ms. */
#define MEASURE_WARM_TIMEOUT_MS	30000
/* A deploy whose status has not been written for this long, in seconds,
 * is stuck: its deployd writes it every 20 s while it works, and an
 * abandoned deploy is resumed within two minutes. */
#define MEASURE_DEPLOY_STALE_S	900
/* Time allowed for the request log of a cold sample to appear, in s. */
#define MEASURE_LOG_WAIT_S	60

struct measure_job {
	char			 run_id[80];
	json_t			*manifest;	/* deployment-manifest.json */
	json_t			*request;	/* the normalized deploy request */
	json_t			*status;	/* measurement-status.json */
	char			 generation[STATE_GENERATION_MAX];
	pthread_mutex_t		 lock;		/* status and generation */
	int			 lost;		/* another process took over */
	long			 round;
	const struct servicetype *type;
	void			*type_state;
	struct vector_set	*vectors;
	volatile int		*stop;
	int			 done;
	int			 deferred;	/* the deploy still runs */
	char			 object[256];	/* measurement-status.json */
};

json_t		*measure_now_json(void);
long		 measure_config_int(struct measure_job *, const char *field);
const char	*measure_strategy(json_t *request);
/* Stores the status; 0, 1 when another process took the claim, or -1. */
int		 measure_write(struct measure_job *);
/* Appends {implementation, phase, message, details, timestamp}. */
void		 measure_error(struct measure_job *, json_t *service,
		    const char *phase, const char *message,
		    const char *details);

/*
 * One cold attempt, the contract and the warm requests of a service. Each
 * returns a new JSON record for the caller to store (NULL when stopped),
 * reads record without changing it, and records errors itself.
 */
json_t		*measure_cold(struct measure_job *, json_t *service,
		    json_t *record);
json_t		*measure_contract(struct measure_job *, json_t *service);
json_t		*measure_warm(struct measure_job *, json_t *service);
/* Sleeps up to seconds, returning early with -1 when the job must stop. */
int		 measure_sleep(struct measure_job *, long seconds);
/* Builds results.json from the manifest and the status. */
json_t		*measure_results(struct measure_job *);

#endif
