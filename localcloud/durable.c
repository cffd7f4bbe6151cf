/* Atomic, fsync'd file writes and removals under the data dir. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "durable.h"
#include "localcloud.h"

/* Creates path and its missing parents with mode 0700. */
int
durable_mkdir(const char *path)
{
	char buf[LC_PATH_MAX];
	size_t i, len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST)
			return -1;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* Flushes a folder's entries (renames, unlinks) to disk. */
int
durable_sync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Writes all of len bytes to fd, retrying short writes. */
static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Replaces dir/name with data atomically: temporary file, fsync, rename,
 * fsync of the folder. mode is the new file's permission bits.
 */
int
durable_write(const char *dir, const char *name, const void *data, size_t len,
    int mode)
{
	char tmp[LC_PATH_MAX], path[LC_PATH_MAX];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s/.tmp.%s.XXXXXX", dir, name) >=
	    (int)sizeof(tmp) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -1;
	if (fchmod(fd, (mode_t)mode) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return durable_sync_dir(dir);

fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

/* Writes a JSON value as one compact line, atomically, mode 0600. */
int
durable_write_json(const char *dir, const char *name, const json_t *value)
{
	char *text;
	int rc;

	if ((text = json_dumps(value, JSON_COMPACT)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = durable_write(dir, name, text, strlen(text), 0600);
	free(text);
	return rc;
}

/* Removes dir/name, if present, and flushes the folder. */
int
durable_remove(const char *dir, const char *name)
{
	char path[LC_PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return durable_sync_dir(dir);
}

/* Reads a whole file of at most max_bytes into a NUL-terminated buffer. */
char *
durable_read(const char *path, size_t max_bytes, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max_bytes) {
		errno = EFBIG;
		goto fail;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail;
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	if (len != NULL)
		*len = off;
	return buf;

fail:
	free(buf);
	n = errno;
	close(fd);
	errno = (int)n;
	return NULL;
}
