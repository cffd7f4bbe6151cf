/*
 * The metadata server of Compute Engine and Cloud Run, under
 * /computeMetadata/v1/: project and instance facts, and the default
 * service account's access and ID tokens. As on the real server, a request
 * must carry "Metadata-Flavor: Google" and must not carry X-Forwarded-For
 * (403 otherwise), and every response carries "Metadata-Flavor: Google".
 * Clients reach it through GCE_METADATA_HOST=127.0.0.1:PORT. This module
 * also serves the signing key's JWKS (GET /oauth2/v3/certs) and the OpenID
 * discovery document, which need no header.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "localcloud.h"
#include "tokens.h"

#define MD_PREFIX	"/computeMetadata/v1/"
#define MD_SA_PREFIX	"instance/service-accounts/"
#define MD_SCOPE	"https://www.googleapis.com/auth/cloud-platform"

/* Sends a text or JSON body with the metadata server's headers. */
static void
md_reply(struct evhttp_request *req, int status, const char *type,
    const char *body)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct evbuffer *buf;

	evhttp_add_header(headers, "Metadata-Flavor", "Google");
	evhttp_add_header(headers, "Content-Type", type);
	if ((buf = evbuffer_new()) == NULL ||
	    evbuffer_add(buf, body, strlen(body)) == -1) {
		if (buf != NULL)
			evbuffer_free(buf);
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

static void
md_text(struct evhttp_request *req, int status, const char *body)
{
	md_reply(req, status, "application/text", body);
}

/* Replies to instance/service-accounts/ACCOUNT/ITEM for the default
 * account, named "default" or by its email. */
static void
md_service_account(struct lc *lc, struct evhttp_request *req,
    const char *rest, const char *query)
{
	const char *email = tokens_service_account();
	const char *slash = strchr(rest, '/');
	char *audience, *token, *text, access[128];
	json_t *body;
	size_t account_len;

	if (*rest == '\0') {
		char list[300];

		snprintf(list, sizeof(list), "default/\n%s/\n", email);
		md_text(req, 200, list);
		return;
	}
	account_len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (!((account_len == 7 && strncmp(rest, "default", 7) == 0) ||
	    (account_len == strlen(email) &&
	    strncmp(rest, email, account_len) == 0))) {
		md_text(req, 404, "Not Found\n");
		return;
	}
	rest = slash != NULL ? slash + 1 : "";

	if (strcmp(rest, "email") == 0) {
		md_text(req, 200, email);
	} else if (strcmp(rest, "aliases") == 0) {
		md_text(req, 200, "default\n");
	} else if (strcmp(rest, "scopes") == 0) {
		md_text(req, 200, MD_SCOPE "\n");
	} else if (strcmp(rest, "token") == 0) {
		if (tokens_access_token(access, sizeof(access)) == -1) {
			md_text(req, 500, "cannot create an access token\n");
			return;
		}
		body = json_pack("{s:s, s:i, s:s}", "access_token", access,
		    "expires_in", (int)tokens_lifetime() - 1, "token_type",
		    "Bearer");
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		json_decref(body);
		if (text == NULL) {
			md_text(req, 500, "out of memory\n");
			return;
		}
		md_reply(req, 200, "application/json", text);
		free(text);
	} else if (strcmp(rest, "identity") == 0) {
		audience = lc_query_get(query, "audience");
		if (audience == NULL || *audience == '\0' ||
		    strlen(audience) > TOKENS_AUDIENCE_MAX) {
			md_text(req, 400, "non-empty audience parameter "
			    "required\n");
			free(audience);
			return;
		}
		if (!lc_utf8_valid(audience, strlen(audience))) {
			md_text(req, 400, "the audience parameter is not "
			    "valid UTF-8\n");
			free(audience);
			return;
		}
		if (tokens_id_token(audience, email, &token) == -1) {
			md_text(req, 500, "cannot sign an ID token\n");
			free(audience);
			return;
		}
		md_text(req, 200, token);
		free(token);
		free(audience);
	} else {
		md_text(req, 404, "Not Found\n");
	}
}

/* Replies to one path under /computeMetadata/v1/. */
static void
md_lookup(struct lc *lc, struct evhttp_request *req, const char *rest,
    const char *query)
{
	const char *number = tokens_project_number();
	char text[512];

	if (strcmp(rest, "") == 0) {
		md_text(req, 200, "instance/\nproject/\n");
	} else if (strcmp(rest, "project/project-id") == 0) {
		md_text(req, 200, lc->project);
	} else if (strcmp(rest, "project/numeric-project-id") == 0) {
		md_text(req, 200, number);
	} else if (strcmp(rest, "instance/region") == 0) {
		snprintf(text, sizeof(text), "projects/%s/regions/%s", number,
		    lc->region);
		md_text(req, 200, text);
	} else if (strcmp(rest, "instance/zone") == 0) {
		snprintf(text, sizeof(text), "projects/%s/zones/%s-1", number,
		    lc->region);
		md_text(req, 200, text);
	} else if (strcmp(rest, "instance/id") == 0) {
		if (tokens_unique_id(lc->api_url, text, sizeof(text)) == -1)
			md_text(req, 500, "internal error\n");
		else
			md_text(req, 200, text);
	} else if (strncmp(rest, MD_SA_PREFIX, strlen(MD_SA_PREFIX)) == 0) {
		md_service_account(lc, req, rest + strlen(MD_SA_PREFIX),
		    query);
	} else {
		md_text(req, 404, "Not Found\n");
	}
}

static int
metadata_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *flavor;

	if (tokens_route(lc, req, path, query))
		return 1;
	if (strcmp(path, "/") != 0 && strcmp(path, "/computeMetadata") != 0 &&
	    strncmp(path, "/computeMetadata/", 17) != 0)
		return 0;

	/* The real server refuses proxied requests and requests without the
	 * header, so that a browser or an SSRF cannot read tokens. */
	flavor = evhttp_find_header(in, "Metadata-Flavor");
	if (flavor == NULL || strcmp(flavor, "Google") != 0) {
		md_text(req, 403, "Missing Metadata-Flavor:Google header.\n");
		return 1;
	}
	if (evhttp_find_header(in, "X-Forwarded-For") != NULL) {
		md_text(req, 403, "Request had an X-Forwarded-For header.\n");
		return 1;
	}
	if (method != EVHTTP_REQ_GET) {
		md_text(req, 405, "Method Not Allowed\n");
		return 1;
	}

	if (strcmp(path, "/") == 0)
		md_text(req, 200, "computeMetadata/\n");
	else if (strcmp(path, "/computeMetadata") == 0 ||
	    strcmp(path, "/computeMetadata/") == 0)
		md_text(req, 200, "v1/\n");
	else if (strncmp(path, MD_PREFIX, strlen(MD_PREFIX)) == 0)
		md_lookup(lc, req, path + strlen(MD_PREFIX), query);
	else if (strcmp(path, "/computeMetadata/v1") == 0)
		md_lookup(lc, req, "", query);
	else
		md_text(req, 404, "Not Found\n");
	return 1;
}

static int
metadata_init(struct lc *lc)
{
	return tokens_open(lc);
}

static void
metadata_shutdown(struct lc *lc)
{
	tokens_close();
}

const struct lc_module metadata_module = {
	"metadata", metadata_init, metadata_route, metadata_shutdown
};
