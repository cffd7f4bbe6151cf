/*
 * localcloud's signing key and the tokens made with it. The key is an RSA
 * 2048 key created at first start in <data_dir>/oauth2/signing-key.pem
 * (mode 0600) and reused afterwards; its key id is its RFC 7638
 * thumbprint. ID tokens carry iss "https://accounts.google.com", so an
 * agent's issuer check passes unchanged, and verify against the JWKS at
 * GET /oauth2/v3/certs on the API port.
 * The metadata module serves those two documents through tokens_route().
 */
#ifndef LOCALCLOUD_TOKENS_H
#define LOCALCLOUD_TOKENS_H

#include <stddef.h>

#include <event2/http.h>
#include <jansson.h>

#include "localcloud.h"

/* Default lifetime of ID and access tokens, in seconds, as Google's. */
#define TOKENS_LIFETIME		3600

/* Maximum length of an ID token audience, in bytes. */
#define TOKENS_AUDIENCE_MAX	2083

int		 tokens_open(struct lc *lc);
void		 tokens_close(void);
int		 tokens_route(struct lc *lc, struct evhttp_request *req,
		    const char *path, const char *query);
const char	*tokens_service_account(void);
/* Seconds the tokens made from now on last. */
unsigned int	 tokens_lifetime(void);
const json_t	*tokens_jwks(void);
const char	*tokens_project_number(void);
int		 tokens_unique_id(const char *email, char *buf, size_t size);
int		 tokens_id_token(const char *audience, const char *email,
		    char **token);
int		 tokens_access_token(char *buf, size_t size);

#endif
