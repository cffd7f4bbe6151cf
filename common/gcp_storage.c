/*
 * Cloud Storage JSON API v1: whole-object downloads and simple uploads
 * with generation preconditions, listing and deletes. Object names are
 * percent-encoded as one path segment, "/" included.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

/* Maximum length of a content type, in bytes. */
#define GCS_CONTENT_TYPE_MAX	256

#define GCS_BUCKET_RULE	"a bucket name is 3 to 63 lowercase letters, " \
	"digits, hyphens, underscores and dots"
#define GCS_OBJECT_RULE	"an object name is 1 to 1024 bytes of UTF-8 " \
	"without CR or LF"

/* The names of one object: its URL path under /storage/v1 and the
 * "bucket/object" that log lines show. */
struct gcs_names {
	char	*path;		/* b/BUCKET/o/ENCODED */
	char	*resource;
	char	*encoded;	/* the object name, percent-encoded */
};

static void
gcs_names_free(struct gcs_names *n)
{
	free(n->path);
	free(n->resource);
	free(n->encoded);
}

/* Checks the names and builds their encoded forms. */
static int
gcs_names(const char *bucket, const char *object, const char *method,
    struct gcs_names *n, struct gcp_error *err)
{
	memset(n, 0, sizeof(*n));
	if (bucket == NULL || !gcp_valid_bucket(bucket))
		return gcp_invalid(err, GCP_API_STORAGE, method,
		    bucket != NULL ? bucket : "(null)",
		    "invalid bucket name: %s", GCS_BUCKET_RULE);
	if (object == NULL || !gcp_valid_object_name(object))
		return gcp_invalid(err, GCP_API_STORAGE, method, bucket,
		    "invalid object name: %s", GCS_OBJECT_RULE);
	n->encoded = gcp_escape(object);
	n->resource = gcp_format("%s/%s", bucket, object);
	if (n->encoded != NULL)
		n->path = gcp_format("b/%s/o/%s", bucket, n->encoded);
	if (n->encoded == NULL || n->resource == NULL || n->path == NULL) {
		gcs_names_free(n);
		return gcp_nomem(err);
	}
	return 0;
}

/* Formats the ifGenerationMatch parameter, or "" when there is none. */
static void
gcs_precondition(int64_t if_generation_match, char sep, char *buf,
    size_t size)
{
	buf[0] = '\0';
	if (if_generation_match >= 0)
		snprintf(buf, size, "%cifGenerationMatch=%" PRId64, sep,
		    if_generation_match);
}

int
gcs_download(const char *bucket, const char *object, char **data,
    size_t *len, int64_t *generation, struct gcp_error *err)
{
	struct gcp_request req;
	struct gcs_names n;
	char *url;
	int rc = -1;

	*data = NULL;
	*len = 0;
	if (generation != NULL)
		*generation = -1;
	if (gcs_names(bucket, object, "GET", &n, err) == -1)
		return -1;
	if ((url = gcp_format("%s/storage/v1/%s?alt=media",
	    gcp_endpoint(GCP_API_STORAGE), n.path)) == NULL) {
		gcs_names_free(&n);
		return gcp_error_set(err, 0, "INVALID_ARGUMENT",
		    "object URL too long");
	}
	if (gcp_send_json(&req, GCP_API_STORAGE, "GET", url, n.resource, NULL,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		goto done;
	if (req.status == 404)
		rc = 1;
	else if (req.status != 200)
		rc = gcp_request_fail(&req, err);
	else if (generation != NULL && req.goog_generation < 0) {
		/* Without it a later compare-and-swap could not be guarded,
		 * so fail instead of guessing. */
		rc = gcp_error_set(err, req.status, "INVALID_RESPONSE",
		    "download response lacks the x-goog-generation header");
		gcp_log_error(GCP_API_STORAGE, "GET", n.resource, err);
	} else {
		*data = req.data;
		*len = req.len;
		req.data = NULL;
		if (generation != NULL)
			*generation = req.goog_generation;
		rc = 0;
	}
	gcp_request_release(&req);
done:
	free(url);
	gcs_names_free(&n);
	return rc;
}

/* Returns 1 when a content type is safe in a header line. */
static int
gcs_valid_content_type(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= GCS_CONTENT_TYPE_MAX || s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	}
	return i > 0;
}

/* Reads the generation of the Object resource an upload returns. */
static int
gcs_upload_result(struct gcp_request *req, const char *resource,
    int64_t *generation, struct gcp_error *err)
{
	json_t *object;
	int64_t g;
	int rc = -1;

	if ((object = gcp_request_json(req, err)) == NULL)
		return -1;
	if (gcp_json_int64(json_object_get(object, "generation"), &g) == -1 ||
	    g < 1) {
		gcp_error_set(err, req->status, "INVALID_RESPONSE",
		    "uploaded object has no valid generation");
		gcp_log_error(GCP_API_STORAGE, "POST", resource, err);
	} else {
		if (generation != NULL)
			*generation = g;
		rc = 0;
	}
	json_decref(object);
	return rc;
}

int
gcs_upload(const char *bucket, const char *object, const char *content_type,
    const void *data, size_t len, int64_t if_generation_match,
    int64_t *generation, struct gcp_error *err)
{
	struct gcp_request req;
	struct gcs_names n;
	char cond[48], *url;
	int rc = -1;

	if (generation != NULL)
		*generation = -1;
	if (gcs_names(bucket, object, "POST", &n, err) == -1)
		return -1;
	if (content_type == NULL || !gcs_valid_content_type(content_type) ||
	    if_generation_match < -1 || (data == NULL && len > 0)) {
		rc = gcp_invalid(err, GCP_API_STORAGE, "POST", n.resource,
		    "invalid upload: content type must be 1 to %d printable "
		    "characters and if_generation_match at least -1",
		    GCS_CONTENT_TYPE_MAX);
		gcs_names_free(&n);
		return rc;
	}
	gcs_precondition(if_generation_match, '&', cond, sizeof(cond));
	url = gcp_format("%s/upload/storage/v1/b/%s/o?uploadType=media&name=%s"
	    "%s", gcp_endpoint(GCP_API_STORAGE), bucket, n.encoded, cond);
	if (url == NULL) {
		gcs_names_free(&n);
		return gcp_error_set(err, 0, "INVALID_ARGUMENT",
		    "object URL too long");
	}

	/* Only an upload with a generation precondition can be repeated
	 * without overwriting a newer write. */
	memset(&req, 0, sizeof(req));
	req.api = GCP_API_STORAGE;
	req.method = "POST";
	req.url = url;
	req.resource = n.resource;
	req.content_type = content_type;
	req.body = data;
	req.body_len = len;
	req.flags = GCP_REQ_AUTH | (if_generation_match >= 0 ?
	    GCP_REQ_IDEMPOTENT : 0);
	if (gcp_request_perform(&req, err) == -1)
		goto done;
	if (req.status == 412) {
		if (req.ambiguous) {
			gcp_error_set(err, 412, "conditionNotMet",
			    "precondition failed after a failed attempt, "
			    "which may have written the object");
			gcp_log_error(GCP_API_STORAGE, "POST", n.resource, err);
		}
		rc = 1;
	} else if (req.status / 100 != 2)
		rc = gcp_request_fail(&req, err);
	else
		rc = gcs_upload_result(&req, n.resource, generation, err);
	gcp_request_release(&req);
done:
	free(url);
	gcs_names_free(&n);
	return rc;
}

/* Appends the names of one list page to names; *next is the malloc'd
 * nextPageToken, or NULL on the last page. */
static int
gcs_list_page(const char *url, const char *bucket, json_t *names,
    char **next, struct gcp_error *err)
{
	struct gcp_request req;
	json_t *root, *items, *item, *name;
	const char *token;
	size_t i;
	int rc = -1;

	*next = NULL;
	if (gcp_send_json(&req, GCP_API_STORAGE, "GET", url, bucket, NULL,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		return -1;
	if (req.status == 404) {
		gcp_response_error(&req, err);
		goto done;
	}
	if (req.status != 200) {
		rc = gcp_request_fail(&req, err);
		goto done;
	}
	if ((root = gcp_request_json(&req, err)) == NULL)
		goto done;
	items = json_object_get(root, "items");
	if (items != NULL && !json_is_array(items)) {
		gcp_error_set(err, req.status, "INVALID_RESPONSE",
		    "items is not an array");
		goto out;
	}
	json_array_foreach(items, i, item) {
		name = json_object_get(item, "name");
		if (!json_is_string(name)) {
			gcp_error_set(err, req.status, "INVALID_RESPONSE",
			    "an item has no name");
			goto out;
		}
		if (json_array_append(names, name) == -1) {
			gcp_nomem(err);
			goto out;
		}
	}
	token = json_string_value(json_object_get(root, "nextPageToken"));
	if (token != NULL && token[0] != '\0' &&
	    (*next = strdup(token)) == NULL) {
		gcp_nomem(err);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		gcp_log_error(GCP_API_STORAGE, "GET", bucket, err);
	json_decref(root);
done:
	gcp_request_release(&req);
	return rc;
}

int
gcs_list(const char *bucket, const char *prefix, json_t **names,
    struct gcp_error *err)
{
	char *escaped = NULL, *first = NULL, *url, *token = NULL;
	json_t *all = NULL;
	int page, rc = -1;

	*names = NULL;
	if (bucket == NULL || !gcp_valid_bucket(bucket))
		return gcp_invalid(err, GCP_API_STORAGE, "GET",
		    bucket != NULL ? bucket : "(null)",
		    "invalid bucket name: %s", GCS_BUCKET_RULE);
	if (prefix != NULL && prefix[0] != '\0' &&
	    !gcp_valid_object_name(prefix))
		return gcp_invalid(err, GCP_API_STORAGE, "GET", bucket,
		    "invalid prefix: %s", GCS_OBJECT_RULE);
	if (prefix != NULL && prefix[0] != '\0' &&
	    (escaped = gcp_escape(prefix)) == NULL)
		goto nomem;
	first = gcp_format("%s/storage/v1/b/%s/o%s%s",
	    gcp_endpoint(GCP_API_STORAGE), bucket,
	    escaped != NULL ? "?prefix=" : "", escaped != NULL ? escaped : "");
	if (first == NULL || (all = json_array()) == NULL)
		goto nomem;

	for (page = 0; page < GCP_PAGES_MAX; page++) {
		url = gcp_page_url(first, token);
		free(token);
		token = NULL;
		if (url == NULL) {
			rc = gcp_error_set(err, 0, "INVALID_RESPONSE",
			    "nextPageToken too long");
			goto done;
		}
		rc = gcs_list_page(url, bucket, all, &token, err);
		free(url);
		if (rc == -1 || token == NULL)
			break;
	}
	if (token != NULL)
		rc = gcp_error_set(err, 0, "INVALID_RESPONSE", "more than %d "
		    "pages of objects", GCP_PAGES_MAX);
	goto done;

nomem:
	gcp_nomem(err);
done:
	free(token);
	free(first);
	free(escaped);
	if (rc == 0)
		*names = all;
	else
		json_decref(all);
	return rc;
}

int
gcs_delete(const char *bucket, const char *object,
    int64_t if_generation_match, struct gcp_error *err)
{
	struct gcp_request req;
	struct gcs_names n;
	char cond[48], *url;
	int rc = -1;

	if (gcs_names(bucket, object, "DELETE", &n, err) == -1)
		return -1;
	if (if_generation_match < -1) {
		rc = gcp_invalid(err, GCP_API_STORAGE, "DELETE", n.resource,
		    "if_generation_match must be at least -1");
		gcs_names_free(&n);
		return rc;
	}
	gcs_precondition(if_generation_match, '?', cond, sizeof(cond));
	if ((url = gcp_format("%s/storage/v1/%s%s",
	    gcp_endpoint(GCP_API_STORAGE), n.path, cond)) == NULL) {
		gcs_names_free(&n);
		return gcp_error_set(err, 0, "INVALID_ARGUMENT",
		    "object URL too long");
	}
	/* Deleting twice leaves the same state, so retries are safe; a
	 * retry that finds the object gone returns 1. */
	if (gcp_send_json(&req, GCP_API_STORAGE, "DELETE", url, n.resource,
	    NULL, GCP_REQ_IDEMPOTENT, err) == 0) {
		if (req.status == 404)
			rc = 1;
		else if (req.status == 412)
			rc = 2;
		else if (req.status / 100 != 2)
			rc = gcp_request_fail(&req, err);
		else
			rc = 0;
		gcp_request_release(&req);
	}
	free(url);
	gcs_names_free(&n);
	return rc;
}
