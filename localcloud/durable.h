/*
 * Crash-safe files for localcloud's modules: each write goes to a
 * temporary file in the same folder, is fsync'd, renamed over the target
 * and followed by an fsync of the folder, so a reader after a crash sees
 * either the old or the new contents, never a mix.
 *
 * These calls block the event loop for the duration of the disk I/O, which
 * is acceptable for an emulator serving one machine.
 */
#ifndef LOCALCLOUD_DURABLE_H
#define LOCALCLOUD_DURABLE_H

#include <stddef.h>

#include <jansson.h>

int	 durable_mkdir(const char *path);
int	 durable_write(const char *dir, const char *name, const void *data,
	    size_t len, int mode);
int	 durable_write_json(const char *dir, const char *name,
	    const json_t *value);
int	 durable_remove(const char *dir, const char *name);
int	 durable_sync_dir(const char *dir);
char	*durable_read(const char *path, size_t max_bytes, size_t *len);

#endif
