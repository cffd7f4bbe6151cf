/*
 * Cloud Run's invoker IAM check, enforced by the data plane with
 * --invoker-iam: a service is private unless its IAM policy grants
 * roles/run.invoker to allUsers or the service sets invokerIamDisabled, and
 * a request to a private service must carry an ID token that localcloud
 * signed for the service's URL.
 */
#ifndef LOCALCLOUD_INVOKER_H
#define LOCALCLOUD_INVOKER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "run.h"

/* Clock difference allowed on exp and iat, in seconds. */
#define INVOKER_SKEW_S		10

int	 invoker_init(struct lc *);
void	 invoker_shutdown(struct lc *);
void	 invoker_update(struct run_service *);
int	 invoker_verify(const struct run_service *, const char *token,
	    size_t len, time_t now, int64_t *exp, const char **reason);

/* Whether a request to svc needs a token now. */
static inline int
invoker_required(const struct run_service *svc)
{
	return svc->lc->invoker_iam && !svc->invoker_public;
}

#endif
