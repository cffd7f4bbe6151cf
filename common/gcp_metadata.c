/*
 * Metadata server client: the default service account's access and ID
 * tokens, cached until GCP_TOKEN_MARGIN_S seconds before they expire, and
 * the project id. Tokens are wiped from memory when dropped and never
 * logged.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

/* Distinct audiences whose ID tokens are cached at once. */
#define GCP_ID_CACHE_SIZE	8
/* Maximum length of an audience and of an ID token, in bytes. */
#define GCP_AUDIENCE_MAX	2048
#define GCP_ID_TOKEN_MAX	16384
/* Maximum token lifetime believed, in seconds. Google's tokens last an
 * hour. */
#define GCP_LIFETIME_MAX	86400

struct gcp_id_token {
	char	*audience;
	char	*token;
	int64_t	 refresh_ms;	/* CLOCK_MONOTONIC; fetch again from here */
	int64_t	 expiry_ms;	/* CLOCK_MONOTONIC */
	int64_t	 used_ms;
};

/* One lock for both caches, held while a token is fetched, so that
 * concurrent callers wait for one fetch instead of each making one. */
static pthread_mutex_t gcp_token_lock = PTHREAD_MUTEX_INITIALIZER;
static char gcp_access[GCP_ACCESS_TOKEN_MAX];
static int64_t gcp_access_refresh_ms;
static int64_t gcp_access_expiry_ms;
static struct gcp_id_token gcp_id_cache[GCP_ID_CACHE_SIZE];

/* Returns 1 when s is 1 to max visible ASCII characters, safe in a
 * header. */
static int
gcp_token_chars(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	}
	return i > 0;
}

/* The CLOCK_MONOTONIC time, in ms, at which a token that lives
 * lifetime_s seconds from now_ms must be fetched again. */
static int64_t
gcp_refresh_at(int64_t now_ms, int64_t lifetime_s)
{
	int64_t margin = GCP_TOKEN_MARGIN_S;

	if (lifetime_s <= 0)
		return now_ms;
	if (lifetime_s > GCP_LIFETIME_MAX)
		lifetime_s = GCP_LIFETIME_MAX;
	if (lifetime_s < 2 * margin)
		margin = lifetime_s / 2;
	return now_ms + (lifetime_s - margin) * 1000;
}

/* GETs a path under /computeMetadata/v1/ and checks for a 200. */
static int
gcp_metadata_get(const char *path, const char *resource,
    struct gcp_request *req, struct gcp_error *err)
{
	char *url;
	int rc;

	memset(req, 0, sizeof(*req));
	url = gcp_format("%s/computeMetadata/v1/%s",
	    gcp_endpoint(GCP_API_METADATA), path);
	if (url == NULL)
		return gcp_error_set(err, 0, "INVALID_ARGUMENT",
		    "metadata URL too long");
	req->api = GCP_API_METADATA;
	req->method = "GET";
	req->url = url;
	req->resource = resource;
	req->flags = GCP_REQ_METADATA | GCP_REQ_IDEMPOTENT;
	req->max_response = GCP_METADATA_MAX;
	rc = gcp_request_perform(req, err);
	if (rc == 0 && req->status != 200) {
		rc = gcp_request_fail(req, err);
		gcp_request_release(req);
	}
	free(url);
	req->url = NULL;
	return rc;
}

/* Fetches the access token into the cache; called with the lock held. */
static int
gcp_fetch_access(struct gcp_error *err)
{
	static const char path[] = "instance/service-accounts/default/token";
	struct gcp_request req;
	json_t *root = NULL;
	const char *token, *type;
	json_int_t lifetime;
	int64_t now;
	int rc = -1;

	if (gcp_metadata_get(path, path, &req, err) == -1)
		return -1;
	if ((root = gcp_request_json(&req, err)) == NULL)
		goto done;
	token = json_string_value(json_object_get(root, "access_token"));
	type = json_string_value(json_object_get(root, "token_type"));
	if (token == NULL || !gcp_token_chars(token, sizeof(gcp_access) - 1) ||
	    !json_is_integer(json_object_get(root, "expires_in")) ||
	    (type != NULL && strcasecmp(type, "Bearer") != 0)) {
		gcp_error_set(err, req.status, "INVALID_RESPONSE", "metadata "
		    "token response lacks a usable access_token, expires_in "
		    "or Bearer token_type");
		gcp_log_error(GCP_API_METADATA, "GET", path, err);
		goto done;
	}
	lifetime = json_integer_value(json_object_get(root, "expires_in"));
	if (lifetime > GCP_LIFETIME_MAX)
		lifetime = GCP_LIFETIME_MAX;
	now = gcp_now_ms();
	explicit_bzero(gcp_access, sizeof(gcp_access));
	memcpy(gcp_access, token, strlen(token) + 1);
	gcp_access_refresh_ms = gcp_refresh_at(now, lifetime);
	gcp_access_expiry_ms = now + (lifetime > 0 ? lifetime * 1000 : 0);
	rc = 0;
done:
	json_decref(root);
	explicit_bzero(req.data, req.len);
	gcp_request_release(&req);
	return rc;
}

int
metadata_access_token(char *buf, size_t size, struct gcp_error *err)
{
	int64_t now;
	size_t len;
	int rc = 0;

	pthread_mutex_lock(&gcp_token_lock);
	now = gcp_now_ms();
	if (gcp_access[0] == '\0' || now >= gcp_access_refresh_ms) {
		if (gcp_fetch_access(err) == -1) {
			/* A token inside its margin still works. */
			if (gcp_access[0] == '\0' ||
			    now >= gcp_access_expiry_ms) {
				rc = -1;
				goto done;
			}
			log_warnx("gcp: using the cached access token, which "
			    "expires in %lld s, until a refresh succeeds",
			    (long long)(gcp_access_expiry_ms - now) / 1000);
		}
	}
	len = strlen(gcp_access);
	if (len >= size) {
		rc = gcp_error_set(err, 0, "INVALID_ARGUMENT", "access token "
		    "of %zu bytes does not fit a %zu-byte buffer", len, size);
		goto done;
	}
	memcpy(buf, gcp_access, len + 1);
done:
	pthread_mutex_unlock(&gcp_token_lock);
	return rc;
}

void
gcp_access_token_invalidate(void)
{
	pthread_mutex_lock(&gcp_token_lock);
	explicit_bzero(gcp_access, sizeof(gcp_access));
	gcp_access_refresh_ms = gcp_access_expiry_ms = 0;
	pthread_mutex_unlock(&gcp_token_lock);
}

/* Returns the seconds until the exp claim of a JWT, or -1 when it has
 * none that can be read. The signature is not checked: the token comes
 * from the metadata server and is only passed on. */
static int64_t
gcp_jwt_lifetime(const char *jwt)
{
	const char *payload, *end;
	unsigned char *bin;
	size_t len, binlen;
	json_t *claims = NULL, *exp;
	int64_t lifetime = -1;

	if ((payload = strchr(jwt, '.')) == NULL)
		return -1;
	payload++;
	if ((end = strchr(payload, '.')) == NULL)
		return -1;
	len = (size_t)(end - payload);
	if ((bin = malloc(len + 1)) == NULL)
		return -1;
	if (sodium_base642bin(bin, len + 1, payload, len, "=", &binlen, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0)
		claims = json_loadb((const char *)bin, binlen, 0, NULL);
	exp = json_object_get(claims, "exp");
	if (json_is_integer(exp))
		lifetime = json_integer_value(exp) - (int64_t)time(NULL);
	json_decref(claims);
	free(bin);
	return lifetime;
}

static void
gcp_id_entry_clear(struct gcp_id_token *e)
{
	if (e->token != NULL)
		explicit_bzero(e->token, strlen(e->token));
	free(e->token);
	free(e->audience);
	memset(e, 0, sizeof(*e));
}

/* Returns the cache entry for an audience: its own, else a free one, else
 * the least recently used. */
static struct gcp_id_token *
gcp_id_slot(const char *audience, int *found)
{
	struct gcp_id_token *e, *pick = NULL;
	int i;

	*found = 0;
	for (i = 0; i < GCP_ID_CACHE_SIZE; i++) {
		e = &gcp_id_cache[i];
		if (e->audience != NULL && strcmp(e->audience, audience) == 0) {
			*found = 1;
			return e;
		}
		if (pick == NULL || (pick->audience != NULL &&
		    (e->audience == NULL || e->used_ms < pick->used_ms)))
			pick = e;
	}
	return pick;
}

/* Fetches an ID token for an audience; *token is malloc'd. */
static int
gcp_fetch_identity(const char *audience, char **token, int64_t *lifetime,
    struct gcp_error *err)
{
	static const char resource[] =
	    "instance/service-accounts/default/identity";
	struct gcp_request req;
	char *escaped, *path;
	size_t len;
	int rc = -1;

	if ((escaped = gcp_escape(audience)) == NULL)
		return gcp_error_set(err, 0, "INVALID_ARGUMENT",
		    "cannot encode the audience");
	path = gcp_format("%s?audience=%s&format=full", resource, escaped);
	free(escaped);
	if (path == NULL)
		return gcp_error_set(err, 0, "INVALID_ARGUMENT",
		    "audience too long");
	if (gcp_metadata_get(path, resource, &req, err) == -1) {
		free(path);
		return -1;
	}
	free(path);

	/* The body is the JWT itself, maybe with a line feed after it. */
	len = req.len;
	while (len > 0 && (req.data[len - 1] == '\n' ||
	    req.data[len - 1] == '\r'))
		req.data[--len] = '\0';
	if (!gcp_token_chars(req.data, GCP_ID_TOKEN_MAX) ||
	    strchr(req.data, '.') == NULL) {
		gcp_error_set(err, req.status, "INVALID_RESPONSE", "metadata "
		    "identity response is not a JWT");
		gcp_log_error(GCP_API_METADATA, "GET", resource, err);
		goto done;
	}
	if ((*token = strdup(req.data)) == NULL) {
		gcp_nomem(err);
		goto done;
	}
	*lifetime = gcp_jwt_lifetime(req.data);
	rc = 0;
done:
	explicit_bzero(req.data, req.len);
	gcp_request_release(&req);
	return rc;
}

int
metadata_identity_token(const char *audience, long min_valid_s, char **token,
    long *valid_s, struct gcp_error *err)
{
	struct gcp_id_token *e;
	char *fresh = NULL, *audience_copy = NULL;
	int64_t lifetime = -1, now;
	int found, rc = -1;

	*token = NULL;
	if (valid_s != NULL)
		*valid_s = -1;
	if (!gcp_token_chars(audience, GCP_AUDIENCE_MAX))
		return gcp_error_set(err, 0, "INVALID_ARGUMENT", "audience "
		    "must be 1 to %d visible ASCII characters",
		    GCP_AUDIENCE_MAX);

	pthread_mutex_lock(&gcp_token_lock);
	e = gcp_id_slot(audience, &found);
	now = gcp_now_ms();
	if (found && now < e->refresh_ms &&
	    e->expiry_ms - now >= (int64_t)min_valid_s * 1000) {
		e->used_ms = now;
		if ((*token = strdup(e->token)) == NULL)
			gcp_nomem(err);
		else
			rc = 0;
		if (valid_s != NULL)
			*valid_s = (long)((e->expiry_ms - now) / 1000);
		goto done;
	}
	if (gcp_fetch_identity(audience, &fresh, &lifetime, err) == -1)
		goto done;
	if ((*token = strdup(fresh)) == NULL) {
		gcp_nomem(err);
		goto done;
	}
	rc = 0;
	/* Cache only a token whose expiry is known. */
	if (lifetime <= 0 || (audience_copy = strdup(audience)) == NULL) {
		if (found)
			gcp_id_entry_clear(e);
		goto done;
	}
	gcp_id_entry_clear(e);
	e->audience = audience_copy;
	e->token = fresh;
	fresh = NULL;
	e->refresh_ms = gcp_refresh_at(now, lifetime);
	e->expiry_ms = now + (lifetime > GCP_LIFETIME_MAX ? GCP_LIFETIME_MAX :
	    lifetime) * 1000;
	e->used_ms = now;
	if (valid_s != NULL)
		*valid_s = (long)((e->expiry_ms - now) / 1000);
done:
	pthread_mutex_unlock(&gcp_token_lock);
	if (fresh != NULL) {
		explicit_bzero(fresh, strlen(fresh));
		free(fresh);
	}
	return rc;
}

int
metadata_project_id(char *buf, size_t size, struct gcp_error *err)
{
	static const char path[] = "project/project-id";
	struct gcp_request req;
	size_t len;
	int rc = -1;

	if (gcp_metadata_get(path, path, &req, err) == -1)
		return -1;
	len = req.len;
	while (len > 0 && (req.data[len - 1] == '\n' ||
	    req.data[len - 1] == '\r' || req.data[len - 1] == ' '))
		req.data[--len] = '\0';
	if (len == 0 || strlen(req.data) != len) {
		gcp_error_set(err, req.status, "INVALID_RESPONSE",
		    "metadata project-id is empty or binary");
		gcp_log_error(GCP_API_METADATA, "GET", path, err);
	} else if (len >= size)
		gcp_error_set(err, 0, "INVALID_ARGUMENT", "project id of %zu "
		    "bytes does not fit a %zu-byte buffer", len, size);
	else {
		memcpy(buf, req.data, len + 1);
		rc = 0;
	}
	gcp_request_release(&req);
	return rc;
}

void
gcp_metadata_cleanup(void)
{
	int i;

	pthread_mutex_lock(&gcp_token_lock);
	explicit_bzero(gcp_access, sizeof(gcp_access));
	gcp_access_refresh_ms = gcp_access_expiry_ms = 0;
	for (i = 0; i < GCP_ID_CACHE_SIZE; i++)
		gcp_id_entry_clear(&gcp_id_cache[i]);
	pthread_mutex_unlock(&gcp_token_lock);
}
