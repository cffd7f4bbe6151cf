/*
 * The discord-webhook service type: an interactions endpoint that Discord
 * calls with POST /interactions. Every request carries X-Signature-Ed25519,
 * the hex Ed25519 signature over the X-Signature-Timestamp string followed
 * by the raw body bytes, and X-Signature-Timestamp. The agent keeps the key
 * pair, and the services under test get only the public key, as 64 hex
 * characters in DISCORD_PUBLIC_KEY.
 */
#ifndef DISCORD_H
#define DISCORD_H

#include <stddef.h>

#include <sodium.h>

#include "servicetype.h"

#define DISCORD_PATH			"/interactions"
#define DISCORD_SEED_LEN		crypto_sign_SEEDBYTES	/* 32 */
#define DISCORD_SIGNATURE_LEN		crypto_sign_BYTES	/* 64 */
#define DISCORD_PUBLIC_KEY_HEX_SIZE	(2 * crypto_sign_PUBLICKEYBYTES + 1)
#define DISCORD_SIGNATURE_HEX_SIZE	(2 * crypto_sign_BYTES + 1)
#define DISCORD_TIMESTAMP_MAX		64	/* bytes, with the NUL */

/*
 * An Ed25519 key pair. The secret key lives in memory from sodium_malloc(),
 * with guard pages, locked and wiped when freed. It is never logged or
 * written out, but its seed can be exported to resume a run.
 */
struct discord_key {
	unsigned char	 public_key[crypto_sign_PUBLICKEYBYTES];
	unsigned char	*secret_key;	/* crypto_sign_SECRETKEYBYTES */
};

int	 discord_key_generate(struct discord_key *key);
/* Derives the key pair of a DISCORD_SEED_LEN-byte seed (RFC 8032). */
int	 discord_key_from_seed(struct discord_key *key,
	    const unsigned char *seed, size_t len);
/* Copies the seed into out, which has room for size bytes. */
int	 discord_key_seed(const struct discord_key *key, unsigned char *out,
	    size_t size);
/* Wipes and frees the secret key. A cleared key may be cleared again. */
void	 discord_key_clear(struct discord_key *key);
/* Writes the public key as lowercase hex into out. */
int	 discord_key_public_hex(const struct discord_key *key, char *out,
	    size_t size);

/*
 * Signs the timestamp string followed by exactly body_len body bytes, as
 * Discord does, into sig (DISCORD_SIGNATURE_LEN bytes).
 */
int	 discord_sign(const struct discord_key *key, const char *timestamp,
	    const unsigned char *body, size_t body_len, unsigned char *sig);
/* Returns 0 when sig is a valid signature of timestamp and body. */
int	 discord_verify(const unsigned char *public_key, const char *timestamp,
	    const unsigned char *body, size_t body_len,
	    const unsigned char *sig);

extern const struct servicetype discord_servicetype;

#endif
