/*
 * The invoker check of Cloud Run's data plane. A token passes when it is an
 * RS256 JWT signed with localcloud's own key, which its kid names, and its
 * iss is Google's. Its aud must be the service's URL, with or without a
 * trailing slash, or one of the service's customAudiences. Its exp must not
 * be past and its iat not ahead, both within INVOKER_SKEW_S. Any identity
 * localcloud signed for is accepted, because the policy's other members
 * are not consulted.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "jwt.h"
#include "log.h"
#include "localcloud.h"
#include "invoker.h"
#include "run.h"
#include "tokens.h"

/* The two spellings of Google's issuer that ID tokens carry. */
static const char *const invoker_issuers[] = {
	"https://accounts.google.com",
	"accounts.google.com",
};

/* Opens the signing key, whose JWKS verifies tokens, when enforcing. */
int
invoker_init(struct lc *lc)
{
	if (!lc->invoker_iam)
		return 0;
	if (tokens_open(lc) == -1)
		return -1;
	log_info("invoker IAM is enforced: requests to services that are not "
	    "public need an ID token");
	return 0;
}

void
invoker_shutdown(struct lc *lc)
{
	if (lc->invoker_iam)
		tokens_close();
}

/* Whether policy grants roles/run.invoker to allUsers without a
 * condition. A conditional binding is not evaluated, so it never makes a
 * service public. */
static int
policy_public(const json_t *policy)
{
	const json_t *bindings, *binding, *members, *member;
	const char *role, *name;
	size_t i, j;

	bindings = json_object_get(policy, "bindings");
	json_array_foreach(bindings, i, binding) {
		role = json_string_value(json_object_get(binding, "role"));
		if (role == NULL || strcmp(role, "roles/run.invoker") != 0 ||
		    json_object_get(binding, "condition") != NULL)
			continue;
		members = json_object_get(binding, "members");
		json_array_foreach(members, j, member) {
			name = json_string_value(member);
			if (name != NULL && strcmp(name, "allUsers") == 0)
				return 1;
		}
	}
	return 0;
}

/* Recomputes whether svc is public. Run calls it whenever the service's
 * spec or IAM policy changes. */
void
invoker_update(struct run_service *svc)
{
	svc->invoker_public = json_is_true(json_object_get(svc->spec,
	    "invokerIamDisabled")) || policy_public(svc->iam_policy);
}

/* Whether aud names svc: its URL, that URL with a trailing slash, or one
 * of its customAudiences. */
static int
audience_ok(const struct run_service *svc, const char *aud)
{
	char uri[LC_URL_MAX];
	const json_t *custom, *v;
	size_t len, i;

	run_service_uri(svc, uri, sizeof(uri));
	len = strlen(uri);
	if (strncmp(aud, uri, len) == 0 && (aud[len] == '\0' ||
	    (aud[len] == '/' && aud[len + 1] == '\0')))
		return 1;
	custom = json_object_get(svc->spec, "customAudiences");
	json_array_foreach(custom, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), aud) == 0)
			return 1;
	}
	return 0;
}

/*
 * Verifies a bearer token for a request to svc at Unix time now. Returns
 * 0 and the token's exp, or -1 and the reason it failed, a static string.
 */
int
invoker_verify(const struct run_service *svc, const char *token, size_t len,
    time_t now, int64_t *exp, const char **reason)
{
	struct jwt_policy policy;
	struct jwt jwt;
	const char *aud;
	enum jwt_status st;

	if ((st = jwt_parse(token, len, &jwt)) != JWT_OK) {
		*reason = jwt_strerror(st);
		return -1;
	}
	if ((st = jwt_verify(&jwt, tokens_jwks())) != JWT_OK)
		goto fail;

	/* jwt_check_claims compares aud with one string, so the accepted
	 * forms are checked here and the token's own aud is passed on. */
	aud = json_string_value(json_object_get(jwt.claims, "aud"));
	if (aud == NULL || !audience_ok(svc, aud)) {
		st = JWT_ERR_AUDIENCE;
		goto fail;
	}
	memset(&policy, 0, sizeof(policy));
	policy.issuers = invoker_issuers;
	policy.issuer_count = sizeof(invoker_issuers) /
	    sizeof(invoker_issuers[0]);
	policy.audience = aud;
	policy.skew = INVOKER_SKEW_S;
	policy.now = now;
	if ((st = jwt_check_claims(jwt.claims, &policy)) != JWT_OK)
		goto fail;
	*exp = (int64_t)json_integer_value(json_object_get(jwt.claims, "exp"));
	jwt_clear(&jwt);
	return 0;

fail:
	*reason = jwt_strerror(st);
	jwt_clear(&jwt);
	return -1;
}
