/*
 * Replays files through one fuzzing harness without libFuzzer, for make
 * check. With no arguments it runs every file of tests/fuzz/corpus/TARGET
 * and tests/fuzz/regress/TARGET under $PERF_AGENT_SRCDIR, or under the
 * source tree the build was configured from. Arguments name other files
 * or folders. Each input runs in a child process, so that a crash, a
 * sanitizer report or a leak fails that input alone. Results are printed
 * as TAP.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* Largest input replayed, in bytes; the fuzzing runs use far smaller. */
#define DRIVER_INPUT_MAX	(4 * 1024 * 1024)
/* Inputs one folder may hold. */
#define DRIVER_FILES_MAX	100000

struct driver {
	char	**paths;
	size_t	  count;
	size_t	  size;
};

/* Appends a copy of path to the list of inputs. */
static int
driver_add(struct driver *d, const char *path)
{
	char **grown;
	size_t size;

	if (d->count == d->size) {
		if (d->size >= DRIVER_FILES_MAX) {
			fprintf(stderr, "driver: more than %d inputs\n",
			    DRIVER_FILES_MAX);
			return -1;
		}
		size = d->size == 0 ? 64 : d->size * 2;
		if ((grown = realloc(d->paths, size * sizeof(*grown))) == NULL)
			return -1;
		d->paths = grown;
		d->size = size;
	}
	if ((d->paths[d->count] = strdup(path)) == NULL)
		return -1;
	d->count++;
	return 0;
}

static int
driver_skip_name(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/*
 * Adds the regular files of dir in name order; names starting with a dot
 * are skipped. A missing folder adds nothing when optional is set.
 */
static int
driver_add_dir(struct driver *d, const char *dir, int optional)
{
	struct dirent **names;
	char path[PATH_MAX];
	struct stat st;
	int i, n, rc = 0;

	if ((n = scandir(dir, &names, driver_skip_name, alphasort)) == -1) {
		if (optional && errno == ENOENT)
			return 0;
		fprintf(stderr, "driver: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) >= (int)sizeof(path)) {
			fprintf(stderr, "driver: %s: path too long\n", dir);
			rc = -1;
		}
		if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc = driver_add(d, path);
		free(names[i]);
	}
	free(names);
	return rc;
}

/* Adds a file, or the files of a folder. */
static int
driver_add_path(struct driver *d, const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "driver: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return driver_add_dir(d, path, 0);
	return driver_add(d, path);
}

/*
 * Reads a whole input file into a new buffer of exactly its size, so that
 * AddressSanitizer catches a read one byte past the end, as it does under
 * libFuzzer.
 */
static uint8_t *
driver_read(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	size_t n = 0, got;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(f), &st) == -1 || st.st_size > DRIVER_INPUT_MAX ||
	    (buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
		fprintf(stderr, "driver: %s: unreadable or larger than %d "
		    "bytes\n", path, DRIVER_INPUT_MAX);
		fclose(f);
		return NULL;
	}
	while (n < (size_t)st.st_size &&
	    (got = fread(buf + n, 1, (size_t)st.st_size - n, f)) > 0)
		n += got;
	fclose(f);
	*len = n;
	return buf;
}

/* Runs one input in a child; returns 0 when the child exits with 0. */
static int
driver_run(const char *path)
{
	uint8_t *data;
	size_t len;
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "driver: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if ((data = driver_read(path, &len)) == NULL)
			_exit(2);
		LLVMFuzzerTestOneInput(data, len);
		free(data);
		/* exit, not _exit, so that LeakSanitizer checks the input. */
		exit(0);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		printf("# %s: killed by signal %d\n", path, WTERMSIG(status));
	else
		printf("# %s: exit status %d\n", path, WEXITSTATUS(status));
	return -1;
}

const char	*__asan_default_options(void);

/*
 * Makes AddressSanitizer treat an allocation over 2 GiB as an error, as
 * libFuzzer does by default, so that an input which makes the code under
 * test allocate gigabytes fails here too. Builds without AddressSanitizer
 * never call this function, and there such an input passes unless the
 * allocation fails.
 */
const char *
__asan_default_options(void)
{
	return "max_allocation_size_mb=2048:allocator_may_return_null=0";
}

/* Returns the source tree: $PERF_AGENT_SRCDIR, else the configured one. */
static const char *
driver_srcdir(void)
{
	const char *dir = getenv("PERF_AGENT_SRCDIR");

	return dir != NULL && dir[0] != '\0' ? dir : ABS_TOP_SRCDIR;
}

int
main(int argc, char **argv)
{
	struct driver d = { NULL, 0, 0 };
	char dir[PATH_MAX];
	size_t i, failed = 0;
	int a;

	if (argc > 1) {
		for (a = 1; a < argc; a++)
			if (driver_add_path(&d, argv[a]) == -1)
				return 1;
	} else {
		/* The seed corpus must exist and hold inputs; the regression
		 * folder may be empty, and git keeps no empty folder. */
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
		    driver_srcdir(), FUZZ_TARGET);
		if (driver_add_dir(&d, dir, 0) == -1)
			return 1;
		if (d.count == 0) {
			printf("1..1\nnot ok 1 - %s holds no inputs\n", dir);
			return 1;
		}
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/regress/%s",
		    driver_srcdir(), FUZZ_TARGET);
		if (driver_add_dir(&d, dir, 1) == -1)
			return 1;
	}

	printf("1..%zu\n", d.count);
	for (i = 0; i < d.count; i++) {
		const char *name = strstr(d.paths[i], "tests/fuzz/");

		name = name != NULL ? name + strlen("tests/fuzz/") :
		    d.paths[i];
		if (driver_run(d.paths[i]) == 0)
			printf("ok %zu - %s %s\n", i + 1, FUZZ_TARGET, name);
		else {
			printf("not ok %zu - %s %s\n", i + 1, FUZZ_TARGET,
			    name);
			failed++;
		}
		free(d.paths[i]);
	}
	free(d.paths);
	return failed > 0 ? 1 : 0;
}
