/*
 * Inbound authentication of the Agent API: every request but /health
 * carries "Authorization: Bearer <Google-signed OIDC ID token>". The token
 * must verify RS256 against the JWKS at the certs URL (cached, refetched
 * when a token names an unknown kid), come from one of Google's two issuer
 * forms, name the agent's URL as its audience, be within its validity with
 * at most 10 s of clock skew, and carry a verified email that is one of the
 * allowed invokers. Checks run on API threads, because a JWKS fetch blocks.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "frontd.h"
#include "jwt.h"
#include "log.h"
#include "settings.h"
#include "validate.h"

/* Clock difference tolerated on exp and iat, in seconds. */
#define AUTH_SKEW_S		10
/* A cached JWKS is refetched after this, in seconds. */
#define AUTH_JWKS_TTL_S		3600
/* Minimum time between two fetches for an unknown kid, in seconds. */
#define AUTH_REFETCH_MIN_S	30
/* Largest JWKS document read, in bytes. */
#define AUTH_JWKS_MAX		(256 * 1024)

static const char *const auth_issuers[] = {
	"accounts.google.com",
	"https://accounts.google.com",
};

static pthread_mutex_t auth_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *auth_jwks;
static time_t auth_fetched_at;
static int auth_disabled;

struct auth_buf {
	char	*data;
	size_t	 len;
};

static size_t
auth_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct auth_buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > AUTH_JWKS_MAX || (p = realloc(b->data,
	    b->len + n + 1)) == NULL)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Fetches the JWKS; NULL with the reason logged. */
static json_t *
auth_fetch_jwks(void)
{
	const char *url = settings_str(CFG_CERTS_URL);
	struct auth_buf buf = { NULL, 0 };
	json_t *jwks = NULL;
	long status = 0;
	CURLcode rc;
	CURL *curl;

	if ((curl = curl_easy_init()) == NULL)
		return NULL;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, auth_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK || status != 200) {
		log_warnx("cannot fetch the JWKS from %s: %s", url, rc !=
		    CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
		free(buf.data);
		return NULL;
	}
	jwks = json_loadb(buf.data ? buf.data : "", buf.len, 0, NULL);
	free(buf.data);
	if (!json_is_array(json_object_get(jwks, "keys"))) {
		log_warnx("the JWKS at %s has no \"keys\" array", url);
		json_decref(jwks);
		return NULL;
	}
	return jwks;
}

static int
auth_has_kid(json_t *jwks, const char *kid)
{
	json_t *key;
	size_t i;

	json_array_foreach(json_object_get(jwks, "keys"), i, key) {
		const char *k = json_string_value(json_object_get(key, "kid"));

		if (k != NULL && kid != NULL && strcmp(k, kid) == 0)
			return 1;
	}
	return 0;
}

/* Returns a reference to a JWKS that contains kid, fetching when the cache
 * is old or lacks it; the reference may still lack kid. */
static json_t *
auth_jwks_for(const char *kid)
{
	time_t now = time(NULL);
	json_t *jwks, *fresh;
	int stale;

	pthread_mutex_lock(&auth_lock);
	stale = auth_jwks == NULL || now - auth_fetched_at > AUTH_JWKS_TTL_S ||
	    (!auth_has_kid(auth_jwks, kid) &&
	    now - auth_fetched_at >= AUTH_REFETCH_MIN_S);
	if (stale && (fresh = auth_fetch_jwks()) != NULL) {
		json_decref(auth_jwks);
		auth_jwks = fresh;
		auth_fetched_at = now;
	} else if (stale && auth_jwks == NULL)
		auth_fetched_at = now;
	jwks = json_incref(auth_jwks);
	pthread_mutex_unlock(&auth_lock);
	return jwks;
}

static int
auth_fail(struct api_error *e, int status, const char *code,
    const char *message)
{
	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	e->field[0] = '\0';
	snprintf(e->message, sizeof(e->message), "%s", message);
	return -1;
}

/* Returns 1 when email is in the comma-separated ALLOWED_INVOKERS. */
static int
auth_allowed(const char *email)
{
	const char *list = settings_str(CFG_ALLOWED_INVOKERS), *p = list;
	size_t len = strlen(email), n;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, ", ");
		if (n == len && n > 0 && strncmp(p, email, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

int
auth_check(const char *authorization, struct api_error *e)
{
	struct jwt_policy policy;
	enum jwt_status status;
	struct jwt jwt;
	json_t *jwks, *claims = NULL, *verified;
	const char *token, *kid, *email;
	char message[256];
	size_t len;

	if (auth_disabled)
		return 0;
	/* The scheme name is case-insensitive (RFC 9110, section 11.1). */
	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return auth_fail(e, 401, "unauthenticated", "missing "
		    "\"Authorization: Bearer <ID token>\"");
	token = authorization + 7;
	len = strlen(token);
	if (jwt_parse(token, len, &jwt) != JWT_OK)
		return auth_fail(e, 401, "invalid_token", "the bearer token "
		    "is not a well-formed JWT");
	kid = json_string_value(json_object_get(jwt.header, "kid"));
	jwks = auth_jwks_for(kid);
	jwt_clear(&jwt);
	if (jwks == NULL)
		return auth_fail(e, 503, "unavailable", "the token signing "
		    "keys cannot be fetched; retry");

	memset(&policy, 0, sizeof(policy));
	policy.issuers = auth_issuers;
	policy.issuer_count = sizeof(auth_issuers) / sizeof(auth_issuers[0]);
	policy.audience = settings_str(CFG_AGENT_URL);
	policy.skew = AUTH_SKEW_S;
	policy.now = time(NULL);
	status = jwt_verify_token(token, len, jwks, &policy, &claims);
	json_decref(jwks);
	if (status != JWT_OK) {
		snprintf(message, sizeof(message), "invalid token: %s",
		    jwt_strerror(status));
		return auth_fail(e, 401, "invalid_token", message);
	}

	/* Google writes email_verified as true; some emitters as "true". */
	email = json_string_value(json_object_get(claims, "email"));
	verified = json_object_get(claims, "email_verified");
	if (email == NULL || !(json_is_true(verified) ||
	    (json_is_string(verified) && (strcmp(json_string_value(verified),
	    "true") == 0 || strcmp(json_string_value(verified), "True") ==
	    0)))) {
		json_decref(claims);
		return auth_fail(e, 403, "permission_denied", "the token has no "
		    "verified email");
	}
	if (!auth_allowed(email)) {
		snprintf(message, sizeof(message), "%.200s is not an allowed "
		    "invoker", email);
		json_decref(claims);
		return auth_fail(e, 403, "permission_denied", message);
	}
	json_decref(claims);
	return 0;
}

int
auth_init(void)
{
	auth_disabled = settings_bool(CFG_AUTH_DISABLED);
	if (auth_disabled) {
		log_warnx("authentication is disabled (AUTH_DISABLED): the "
		    "Agent API accepts requests without a token");
		return 0;
	}
	if (settings_str(CFG_AGENT_URL)[0] == '\0') {
		log_warnx("authentication needs AGENT_URL, the audience of "
		    "the callers' tokens; set it, or set AUTH_DISABLED=true "
		    "to run without authentication");
		return -1;
	}
	if (settings_str(CFG_ALLOWED_INVOKERS)[0] == '\0')
		log_warnx("ALLOWED_INVOKERS is empty: every authenticated "
		    "request gets 403");
	log_info("authentication on: audience %s, keys from %s",
	    settings_str(CFG_AGENT_URL), settings_str(CFG_CERTS_URL));
	return 0;
}

void
auth_shutdown(void)
{
	json_decref(auth_jwks);
	auth_jwks = NULL;
}
