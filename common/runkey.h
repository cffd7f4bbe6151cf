/*
 * Per-run secrets (for discord-webhook, the seed of the Ed25519 key pair
 * the services verify against) derived from one agent secret, so that any
 * agent process or instance can rebuild a run's key without storing it:
 *
 *	secret = BLAKE2b(key = agent secret, message = type NUL run_id)
 *
 * The agent secret comes from AGENT_SECRET (64 hex characters) or, when that
 * is unset, from the state object agent/secret.json, created once with a
 * create-only write so that concurrent instances agree on it.
 */
#ifndef RUNKEY_H
#define RUNKEY_H

#include <stddef.h>

#define RUNKEY_AGENT_SECRET_LEN	32	/* bytes */

int	runkey_derive(const char *run_id, unsigned char *out, size_t len,
	    char *err, size_t errlen);

#endif
