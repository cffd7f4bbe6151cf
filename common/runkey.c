/* Per-run secrets derived from the agent secret. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "runkey.h"
#include "settings.h"
#include "state.h"

#define RUNKEY_OBJECT	"agent/secret.json"

static pthread_mutex_t runkey_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char agent_secret[RUNKEY_AGENT_SECRET_LEN];
static int agent_secret_loaded;

static int
runkey_from_hex(const char *hex, char *err, size_t errlen)
{
	size_t len;

	if (sodium_hex2bin(agent_secret, sizeof(agent_secret), hex,
	    strlen(hex), NULL, &len, NULL) != 0 ||
	    len != sizeof(agent_secret)) {
		snprintf(err, errlen, "the agent secret must be %zu hex "
		    "characters", 2 * sizeof(agent_secret));
		return -1;
	}
	return 0;
}

/* Reads agent/secret.json, creating it first when it does not exist. */
static int
runkey_load_stored(char *err, size_t errlen)
{
	unsigned char fresh[RUNKEY_AGENT_SECRET_LEN];
	char hex[2 * RUNKEY_AGENT_SECRET_LEN + 1];
	json_t *data;
	const char *stored;
	int rc, attempt;

	for (attempt = 0; attempt < 3; attempt++) {
		rc = state_get(RUNKEY_OBJECT, &data, NULL, err, errlen);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			stored = json_string_value(json_object_get(data,
			    "secret"));
			rc = stored != NULL ? runkey_from_hex(stored, err,
			    errlen) : -1;
			if (stored == NULL)
				snprintf(err, errlen, "%s has no \"secret\"",
				    RUNKEY_OBJECT);
			json_decref(data);
			return rc;
		}
		randombytes_buf(fresh, sizeof(fresh));
		sodium_bin2hex(hex, sizeof(hex), fresh, sizeof(fresh));
		data = json_pack("{s:s}", "secret", hex);
		rc = state_put(RUNKEY_OBJECT, data, "0", NULL, err, errlen);
		json_decref(data);
		sodium_memzero(hex, sizeof(hex));
		if (rc == -1)
			return -1;
		if (rc == 0) {
			memcpy(agent_secret, fresh, sizeof(agent_secret));
			sodium_memzero(fresh, sizeof(fresh));
			return 0;
		}
		/* Another process created it first: read theirs. */
	}
	snprintf(err, errlen, "%s keeps changing", RUNKEY_OBJECT);
	return -1;
}

int
runkey_derive(const char *run_id, unsigned char *out, size_t len, char *err,
    size_t errlen)
{
	const char *type = settings_str(CFG_SERVICE_TYPE);
	const char *env = getenv("AGENT_SECRET");
	unsigned char message[512];
	size_t tlen = strlen(type), rlen = strlen(run_id);
	int rc = 0;

	if (len < crypto_generichash_BYTES_MIN ||
	    len > crypto_generichash_BYTES_MAX ||
	    tlen + 1 + rlen > sizeof(message)) {
		snprintf(err, errlen, "cannot derive %zu bytes for run %s",
		    len, run_id);
		return -1;
	}
	pthread_mutex_lock(&runkey_lock);
	if (!agent_secret_loaded) {
		if (env != NULL && env[0] != '\0')
			rc = runkey_from_hex(env, err, errlen);
		else
			rc = runkey_load_stored(err, errlen);
		agent_secret_loaded = rc == 0;
	}
	pthread_mutex_unlock(&runkey_lock);
	if (rc == -1)
		return -1;

	memcpy(message, type, tlen);
	message[tlen] = '\0';
	memcpy(message + tlen + 1, run_id, rlen);
	crypto_generichash(out, len, message, tlen + 1 + rlen, agent_secret,
	    sizeof(agent_secret));
	return 0;
}
