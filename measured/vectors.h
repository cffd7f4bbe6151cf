/*
 * Contract test vectors: one JSON file per vector in a folder, in the format
 * that contract/README.md documents for every service type. The loader
 * checks every field and rejects a malformed file with a message that names
 * the file and the field.
 */
#ifndef VECTORS_H
#define VECTORS_H

#include <stddef.h>

#include <jansson.h>

#define VECTORS_FILES_MAX	256		/* vector files in one folder */
#define VECTORS_FILE_SIZE_MAX	(256 * 1024)	/* bytes of one file */
#define VECTORS_NAME_MAX	64		/* bytes of a name, with the NUL */
#define VECTORS_DESCRIPTION_MAX	1024		/* bytes of a description */
#define VECTORS_STATUS_MAX	8		/* accepted statuses of a vector */
#define VECTORS_ERROR_MAX	512		/* bytes for a loader message */

/*
 * Sign modes: the way the service type signs a vector's request when it
 * sends it. The runner signs with the run's key and the current time,
 * never with values stored in the file.
 */
enum vector_sign_mode {
	VECTOR_SIGN_NONE,		/* send the request as written */
	VECTOR_SIGN_VALID,		/* a correct signature */
	VECTOR_SIGN_OTHER_KEY,		/* signed with a different key pair */
	VECTOR_SIGN_FLIP_BIT,		/* one bit of the signature flipped */
	VECTOR_SIGN_BODY_CHANGED,	/* signed_body signed, body sent */
	VECTOR_SIGN_OMIT_TIMESTAMP,	/* valid, timestamp header left out */
	VECTOR_SIGN_OMIT_SIGNATURE,	/* valid, signature header left out */
	VECTOR_SIGN_OMIT_BOTH,		/* both headers left out */
	VECTOR_SIGN_RESIZED,		/* signature hex cut or padded */
	VECTOR_SIGN_LITERAL,		/* signature header given verbatim */
};

enum vector_body_match {
	VECTOR_BODY_ANY,		/* body not checked */
	VECTOR_BODY_EXACT,		/* byte for byte */
	VECTOR_BODY_JSON_SUBSET,	/* JSON containing the given value */
	VECTOR_BODY_JSON_SUBSET_ANY,	/* JSON containing one of several */
};

struct vector_header {
	char	*name;
	char	*value;
};

struct vector_sign {
	enum vector_sign_mode	 mode;
	unsigned int		 bit;		/* FLIP_BIT: 0 is bit 0 of byte 0 */
	unsigned char		*signed_body;	/* BODY_CHANGED */
	size_t			 signed_body_len;
	size_t			 hex_length;	/* RESIZED: hex characters */
	char			*signature;	/* LITERAL: header value */
	long			 timestamp_offset; /* seconds added to now */
	char			*timestamp;	/* verbatim timestamp, or NULL */
};

struct vector_request {
	char			*method;
	char			*path;
	struct vector_header	*headers;
	size_t			 nheaders;
	unsigned char		*body;		/* exact bytes, may hold NULs */
	size_t			 body_len;
	struct vector_sign	 sign;
};

struct vector_expect {
	int			 status[VECTORS_STATUS_MAX];	/* any of */
	size_t			 nstatus;
	enum vector_body_match	 body_match;
	unsigned char		*body;		/* EXACT */
	size_t			 body_len;
	json_t			*json;		/* JSON_SUBSET(_ANY) */
	struct vector_header	*headers;	/* value matches, see README */
	size_t			 nheaders;
};

struct vector {
	char			*file;		/* path, for messages */
	char			*name;
	char			*description;
	int			 optional;	/* reported, not counted */
	struct vector_request	 request;
	struct vector_expect	 expect;
};

struct vector_set {
	char			*dir;
	struct vector		*vectors;	/* sorted by file name */
	size_t			 count;
	size_t			 required;	/* vectors not optional */
};

/*
 * Loads every *.json file of dir (names starting with a dot are skipped)
 * in byte order of their names. Returns NULL with the reason in err, for
 * a malformed file in the form
 * 'vectors: DIR/FILE: field "expect.status": must be an integer 100-599'.
 */
struct vector_set *vectors_load(const char *dir, char *err, size_t errlen);
void	 vectors_free(struct vector_set *set);

/* Loads the one vector in path into v. On failure v is left empty. */
int	 vectors_load_file(const char *path, struct vector *v, char *err,
	    size_t errlen);
/* Loads the vector in the len bytes of text; path names it in messages.
 * On failure v is left empty. */
int	 vectors_load_buffer(const char *path, const char *text, size_t len,
	    struct vector *v, char *err, size_t errlen);
void	 vectors_clear(struct vector *v);

/* Returns the name used in vector files for a sign mode, "valid" etc. */
const char *vectors_sign_mode_name(enum vector_sign_mode mode);

#endif
