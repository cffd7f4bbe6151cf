/*
 * TLS for service URLs: a CA kept in the data dir (created at first start)
 * and a server certificate for 127.0.0.1 and localhost that it issues at
 * every start. Clients trust ca.pem; the CA key never leaves the data dir.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "localcloud.h"
#include "run.h"

#define TLS_CA_DAYS	3650
#define TLS_CERT_DAYS	365
#define TLS_CURVE	"P-256"

struct tls_state {
	EVP_PKEY	*ca_key;
	X509		*ca;
	EVP_PKEY	*key;
	X509		*cert;
	SSL_CTX		*ctx_h1;
	SSL_CTX		*ctx_h2;
};

/* Logs the OpenSSL error queue after a message. */
static void
tls_log_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}

/* Adds one v3 extension written in the openssl.cnf syntax. */
static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int rc;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(cert, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* Makes a certificate for key with the subject CN, signed by issuer_key
 * (itself when issuer is NULL), valid from an hour ago for days days. */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
    long days)
{
	X509 *cert;
	X509_NAME *name;
	BIGNUM *serial = NULL;

	if ((cert = X509_new()) == NULL ||
	    X509_set_version(cert, 2) != 1 ||
	    (serial = BN_new()) == NULL ||
	    BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0,
	    NULL) == NULL || X509_set_pubkey(cert, key) != 1)
		goto fail;
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"localcloud", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, issuer != NULL ?
	    X509_get_subject_name(issuer) : name) != 1)
		goto fail;
	if (issuer == NULL) {
		if (add_ext(cert, cert, NID_basic_constraints,
		    "critical,CA:TRUE,pathlen:0") == -1 ||
		    add_ext(cert, cert, NID_key_usage,
		    "critical,keyCertSign,cRLSign") == -1 ||
		    add_ext(cert, cert, NID_subject_key_identifier,
		    "hash") == -1 ||
		    add_ext(cert, cert, NID_authority_key_identifier,
		    "keyid:always") == -1)
			goto fail;
	} else {
		if (add_ext(cert, issuer, NID_basic_constraints,
		    "critical,CA:FALSE") == -1 ||
		    add_ext(cert, issuer, NID_key_usage,
		    "critical,digitalSignature") == -1 ||
		    add_ext(cert, issuer, NID_ext_key_usage,
		    "serverAuth") == -1 ||
		    add_ext(cert, issuer, NID_subject_alt_name,
		    "IP:127.0.0.1,DNS:localhost") == -1 ||
		    add_ext(cert, issuer, NID_subject_key_identifier,
		    "hash") == -1 ||
		    add_ext(cert, issuer, NID_authority_key_identifier,
		    "keyid:always") == -1)
			goto fail;
	}
	if (X509_sign(cert, issuer_key, EVP_sha256()) == 0)
		goto fail;
	BN_free(serial);
	return cert;

fail:
	BN_free(serial);
	X509_free(cert);
	return NULL;
}

/* Writes a PEM file through a temporary name; mode 0600 for keys. */
static int
write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	char tmp[LC_PATH_MAX];
	FILE *f;
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1) {
		log_warn("cannot create %s", tmp);
		return -1;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	ok = cert != NULL ? PEM_write_X509(f, cert) :
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (ok != 1 || fflush(f) == EOF || fsync(fileno(f)) == -1) {
		fclose(f);
		unlink(tmp);
		log_warnx("cannot write %s", tmp);
		return -1;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		log_warn("cannot write %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Reads the CA from the data dir, or creates it when neither file
 * exists. */
static int
load_or_create_ca(struct lc *lc, struct tls_state *ts)
{
	FILE *f;

	if (access(lc->ca_cert_path, F_OK) == 0 ||
	    access(lc->ca_key_path, F_OK) == 0) {
		if ((f = fopen(lc->ca_key_path, "r")) == NULL) {
			log_warn("cannot read %s", lc->ca_key_path);
			return -1;
		}
		ts->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if ((f = fopen(lc->ca_cert_path, "r")) == NULL) {
			log_warn("cannot read %s", lc->ca_cert_path);
			return -1;
		}
		ts->ca = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
		if (ts->ca == NULL || ts->ca_key == NULL ||
		    X509_check_private_key(ts->ca, ts->ca_key) != 1) {
			tls_log_errors("CA");
			log_warnx("%s and %s are not a matching certificate and "
			    "key; remove both to make a new CA",
			    lc->ca_cert_path, lc->ca_key_path);
			return -1;
		}
		return 0;
	}

	if ((ts->ca_key = EVP_EC_gen(TLS_CURVE)) == NULL ||
	    (ts->ca = make_cert(ts->ca_key, "localcloud CA", NULL,
	    ts->ca_key, TLS_CA_DAYS)) == NULL) {
		tls_log_errors("creating the CA");
		return -1;
	}
	if (write_pem(lc->ca_key_path, 0600, NULL, ts->ca_key) == -1 ||
	    write_pem(lc->ca_cert_path, 0644, ts->ca, NULL) == -1)
		return -1;
	log_info("created the CA %s", lc->ca_cert_path);
	return 0;
}

/* Offers h2 to clients of services whose container speaks h2c, and
 * http/1.1 to the rest. */
static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h1[] = "\x08http/1.1";
	static const unsigned char h2[] = "\x02h2\x08http/1.1";
	const unsigned char *ours = arg != NULL ? h2 : h1;
	unsigned int ourlen = arg != NULL ? sizeof(h2) - 1 : sizeof(h1) - 1;

	unsigned char *selected;

	if (SSL_select_next_proto(&selected, outlen, ours, ourlen, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = selected;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
make_ctx(struct tls_state *ts, int h2)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(ctx, ts->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, ts->key) != 1 ||
	    SSL_CTX_add1_chain_cert(ctx, ts->ca) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, h2 ? ctx : NULL);
	return ctx;
}

int
tls_init(struct lc *lc)
{
	struct tls_state *ts;

	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return -1;
	lc->tls_state = ts;
	if (load_or_create_ca(lc, ts) == -1)
		goto fail;
	if ((ts->key = EVP_EC_gen(TLS_CURVE)) == NULL ||
	    (ts->cert = make_cert(ts->key, "localhost", ts->ca, ts->ca_key,
	    TLS_CERT_DAYS)) == NULL ||
	    (ts->ctx_h1 = make_ctx(ts, 0)) == NULL ||
	    (ts->ctx_h2 = make_ctx(ts, 1)) == NULL) {
		tls_log_errors("setting up TLS");
		goto fail;
	}
	return 0;

fail:
	tls_shutdown(lc);
	return -1;
}

SSL_CTX *
tls_server_ctx(struct lc *lc, int h2)
{
	struct tls_state *ts = lc->tls_state;

	return h2 ? ts->ctx_h2 : ts->ctx_h1;
}

void
tls_shutdown(struct lc *lc)
{
	struct tls_state *ts = lc->tls_state;

	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ctx_h1);
	SSL_CTX_free(ts->ctx_h2);
	X509_free(ts->cert);
	EVP_PKEY_free(ts->key);
	X509_free(ts->ca);
	EVP_PKEY_free(ts->ca_key);
	free(ts);
	lc->tls_state = NULL;
}
