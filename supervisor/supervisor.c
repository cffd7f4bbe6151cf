/*
 * perf-agent: the supervisor. It starts the workers (and localcloud in
 * local mode), restarts a worker that dies, with exponential backoff, gives
 * up when one keeps dying, forwards SIGTERM and SIGINT, and reaps every
 * child, so that it is safe as PID 1 in a container.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "ipc.h"
#include "log.h"
#include "proto.h"
#include "settings.h"

/* First restart delay and its cap, in milliseconds. */
#define RESTART_DELAY_MIN_MS	100
#define RESTART_DELAY_MAX_MS	10000
/* Time the children get between SIGTERM and SIGKILL, in seconds; Cloud Run
 * kills the container 10 s after its own SIGTERM. */
#define STOP_GRACE_S		8
/* Interval of the readiness pings, in milliseconds. */
#define READY_POLL_MS		100
/* Most deaths remembered per worker; the limit is capped to it. */
#define DEATHS_MAX		1000

struct child {
	const char	*name;
	int		 ipc;		/* answers ping on <name>.sock */
	int		 local_only;
	pid_t		 pid;
	struct timespec	 deaths[DEATHS_MAX];
	int		 ndeaths;
	struct event	*restart_timer;
	struct ipc_client *client;
	int		 ready;
	int		 stop_stage;	/* SIGTERM once earlier stages exited */
};

/*
 * On a stop, workers get SIGTERM in stages, each once every worker of the
 * earlier stages has exited, because a stopping worker stores its progress
 * through the later ones: measured asks deployd for scale checks and
 * stated for writes, deployd writes through stated, and stated writes to
 * localcloud in local mode.
 */
#define STOP_STAGES	3
static struct child children[] = {
	{ .name = "localcloud", .local_only = 1, .stop_stage = 2 },
	{ .name = "stated", .ipc = 1, .stop_stage = 2 },
	{ .name = "deployd", .ipc = 1, .stop_stage = 1 },
	{ .name = "measured", .ipc = 1 },
	{ .name = "frontd", .ipc = 1 },
};
#define NCHILDREN	(sizeof(children) / sizeof(children[0]))

static struct event_base *base;
static struct event *ready_timer, *kill_timer;
static int stopping;
static int stop_stage;		/* the last stage that got SIGTERM */
static int exit_status;
static int all_ready;

/* Values of MEASURE_CPU besides a CPU number. */
#define PIN_AUTO	(-1)
#define PIN_OFF		(-2)
/* CPU sets of measured and of every other child, applied after fork when
 * pinning is set. localcloud's instances inherit other_cpus, because
 * localcloud picks their CPUs from its own affinity mask. */
static cpu_set_t measure_cpus, other_cpus;
static int pinning;

static int
child_enabled(const struct child *c)
{
	return !c->local_only || settings_bool(CFG_LOCAL);
}

/* Finds the program of a worker: <dir>/<name>, or <dir>/<name>/<name> in
 * the build tree. */
static int
child_program(const struct child *c, char *buf, size_t size)
{
	const char *dir = settings_libexec_dir();
	struct stat st;

	snprintf(buf, size, "%s/%s", dir, c->name);
	if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	snprintf(buf, size, "%s/%s/%s", dir, c->name, c->name);
	if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	return -1;
}

/* Runs in the child before exec: a worker whose CPU set cannot be applied
 * runs unpinned, because it still works there. Async-signal-safe calls
 * only. */
static void
child_pin(const cpu_set_t *cpus)
{
	static const char msg[] = "perf-agent: cannot set the CPU affinity "
	    "of a worker; it runs unpinned\n";
	ssize_t n;

	if (sched_setaffinity(0, sizeof(*cpus), cpus) == -1) {
		n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)n;
	}
}

static void
child_start(struct child *c)
{
	static char flag_port[] = "--port", flag_data[] = "--data-dir";
	static char flag_idle[] = "--idle-timeout";
	static char flag_impl[] = "--implementations";
	char program[PATH_MAX], port[16], idle[16], data[PATH_MAX];
	char impl[PATH_MAX];
	const cpu_set_t *cpus = NULL;
	char *argv[12];
	int argc = 0;
	pid_t pid, parent;

	if (child_program(c, program, sizeof(program)) == -1) {
		log_error("worker %s not found in %s; set --libexec-dir",
		    c->name, settings_libexec_dir());
		exit_status = 1;
		return;
	}
	argv[argc++] = program;
	if (strcmp(c->name, "localcloud") == 0) {
		snprintf(port, sizeof(port), "%ld",
		    settings_int(CFG_LOCALCLOUD_PORT));
		snprintf(idle, sizeof(idle), "%ld",
		    settings_int(CFG_IDLE_TIMEOUT));
		snprintf(data, sizeof(data), "%s",
		    settings_str(CFG_LOCALCLOUD_DIR));
		argv[argc++] = flag_port;
		argv[argc++] = port;
		argv[argc++] = flag_data;
		argv[argc++] = data;
		argv[argc++] = flag_idle;
		argv[argc++] = idle;
		snprintf(impl, sizeof(impl), "%s/implementations",
		    settings_data_dir());
		argv[argc++] = flag_impl;
		argv[argc++] = impl;
	}
	argv[argc] = NULL;
	if (pinning)
		cpus = strcmp(c->name, "measured") == 0 ? &measure_cpus :
		    &other_cpus;

	parent = getpid();
	switch (pid = fork()) {
	case -1:
		log_warn("cannot start %s", c->name);
		return;
	case 0:
		/* Workers end with the supervisor, even a killed one: its
		 * lock on the runtime folder ends with it, and workers left
		 * behind would share their sockets with the next agent's. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(1);
		if (cpus != NULL)
			child_pin(cpus);
		execv(program, argv);
		fprintf(stderr, "perf-agent: cannot run %s: %s\n", program,
		    strerror(errno));
		_exit(127);
	default:
		c->pid = pid;
		c->ready = 0;
		log_info("started %s, pid %ld", c->name, (long)pid);
	}
}

static void
child_restart(evutil_socket_t fd, short events, void *arg)
{
	struct child *c = arg;

	if (!stopping)
		child_start(c);
}

static int
children_alive(void)
{
	size_t i;
	int n = 0;

	for (i = 0; i < NCHILDREN; i++)
		if (children[i].pid > 0)
			n++;
	return n;
}

/* Kills every process whose parent is the supervisor: workers, and orphans
 * that were reparented to it as the child subreaper. */
static void
kill_descendants(int sig)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	long ppid;
	DIR *dir;
	FILE *f;

	if ((dir = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* The command name may hold spaces: parse after its ')'. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		if (sscanf(p + 1, " %*c %ld", &ppid) != 1 ||
		    ppid != (long)getpid())
			continue;
		kill((pid_t)strtol(de->d_name, NULL, 10), sig);
	}
	closedir(dir);
}

/* Sends SIGTERM to the next stop stages whose earlier stages have all
 * exited. */
static void
stop_next_stages(void)
{
	size_t i;

	while (stop_stage < STOP_STAGES - 1) {
		for (i = 0; i < NCHILDREN; i++)
			if (children[i].pid > 0 &&
			    children[i].stop_stage <= stop_stage)
				return;
		stop_stage++;
		for (i = 0; i < NCHILDREN; i++)
			if (children[i].pid > 0 &&
			    children[i].stop_stage == stop_stage)
				kill(children[i].pid, SIGTERM);
	}
}

static void
stop_children(int status)
{
	struct timeval grace = { STOP_GRACE_S, 0 };
	size_t i;

	if (stopping)
		return;
	stopping = 1;
	if (status != 0)
		exit_status = status;
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	for (i = 0; i < NCHILDREN; i++) {
		if (children[i].restart_timer != NULL)
			evtimer_del(children[i].restart_timer);
		if (children[i].pid > 0 && children[i].stop_stage == 0)
			kill(children[i].pid, SIGTERM);
	}
	stop_stage = 0;
	stop_next_stages();
	evtimer_add(kill_timer, &grace);
	if (children_alive() == 0)
		event_base_loopexit(base, NULL);
}

static void
on_kill_timer(evutil_socket_t fd, short events, void *arg)
{
	log_warnx("workers still running %d s after SIGTERM; killing them",
	    STOP_GRACE_S);
	kill_descendants(SIGKILL);
}

/* Counts the deaths of c within the restart window, dropping older ones. */
static int
child_count_deaths(struct child *c, const struct timespec *now)
{
	long window = settings_int(CFG_RESTART_WINDOW);
	int i, kept = 0;

	for (i = 0; i < c->ndeaths; i++)
		if (now->tv_sec - c->deaths[i].tv_sec < window)
			c->deaths[kept++] = c->deaths[i];
	c->ndeaths = kept;
	return kept;
}

static void
child_died(struct child *c, int status)
{
	struct timespec now;
	struct timeval delay;
	long max = settings_int(CFG_MAX_RESTARTS);
	long ms;
	int n;

	if (WIFSIGNALED(status))
		log_warnx("%s (pid %ld) killed by signal %d (%s)", c->name,
		    (long)c->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (stopping)
		log_info("%s (pid %ld) exited with status %d", c->name,
		    (long)c->pid, WEXITSTATUS(status));
	else
		log_warnx("%s (pid %ld) exited with status %d", c->name,
		    (long)c->pid, WEXITSTATUS(status));
	c->pid = 0;
	c->ready = 0;
	all_ready = 0;
	if (stopping)
		return;

	clock_gettime(CLOCK_MONOTONIC, &now);
	n = child_count_deaths(c, &now);
	if (n < DEATHS_MAX)
		c->deaths[c->ndeaths++] = now;
	n++;
	if (n > max) {
		log_error("%s died %d times within %ld s (limit %ld); giving "
		    "up", c->name, n, settings_int(CFG_RESTART_WINDOW), max);
		stop_children(1);
		return;
	}
	ms = RESTART_DELAY_MIN_MS;
	while (--n > 0 && ms < RESTART_DELAY_MAX_MS)
		ms *= 2;
	if (ms > RESTART_DELAY_MAX_MS)
		ms = RESTART_DELAY_MAX_MS;
	log_info("restarting %s in %ld ms", c->name, ms);
	delay.tv_sec = ms / 1000;
	delay.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->restart_timer, &delay);
}

static void
on_sigchld(evutil_socket_t fd, short events, void *arg)
{
	size_t i;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < NCHILDREN; i++)
			if (children[i].pid == pid)
				break;
		if (i < NCHILDREN)
			child_died(&children[i], status);
		/* Other pids are orphans reparented to us: reaped. */
	}
	if (stopping)
		stop_next_stages();
	if (stopping && children_alive() == 0)
		event_base_loopexit(base, NULL);
}

static void
on_stop_signal(evutil_socket_t sig, short events, void *arg)
{
	log_info("%s received, stopping the workers", strsignal(sig));
	stop_children(0);
}

static void
on_ping(const struct ipc_result *result, void *arg)
{
	struct child *c = arg;
	size_t i;

	c->ready = result->ok;
	if (!c->ready || all_ready)
		return;
	for (i = 0; i < NCHILDREN; i++)
		if (children[i].ipc && !children[i].ready)
			return;
	all_ready = 1;
	log_info("all workers reply to ping; the agent is ready");
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
}

static void
on_ready_timer(evutil_socket_t fd, short events, void *arg)
{
	struct timeval tv = { 0, READY_POLL_MS * 1000 };
	size_t i;

	if (stopping)
		return;
	if (!all_ready)
		for (i = 0; i < NCHILDREN; i++)
			if (children[i].ipc && children[i].pid > 0 &&
			    !children[i].ready)
				ipc_call(children[i].client, MSG_PING, NULL,
				    READY_POLL_MS * 5, on_ping, &children[i]);
	evtimer_add(ready_timer, &tv);
}

/* Fills in the local-mode settings: everything on loopback, pointed at
 * localcloud, whatever the environment said. */
static void
configure_local(void)
{
	char url[256], buf[512];
	long lc = settings_int(CFG_LOCALCLOUD_PORT), lag_s = 0;
	const char *lag;
	char *end;
	static const enum setting_key apis[] = {
		CFG_RUN_ENDPOINT, CFG_STORAGE_ENDPOINT, CFG_SCHEDULER_ENDPOINT,
		CFG_TASKS_ENDPOINT, CFG_MONITORING_ENDPOINT,
		CFG_LOGGING_ENDPOINT,
	};
	size_t i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%ld", lc);
	for (i = 0; i < sizeof(apis) / sizeof(apis[0]); i++)
		settings_set(apis[i], url);
	snprintf(buf, sizeof(buf), "127.0.0.1:%ld", lc);
	settings_set(CFG_METADATA_HOST, buf);
	/* Tokens come from localcloud's metadata server, unless a test
	 * brings keys of its own. */
	if (!settings_is_set(CFG_CERTS_URL)) {
		snprintf(buf, sizeof(buf), "%s/oauth2/v3/certs", url);
		settings_set(CFG_CERTS_URL, buf);
	}
	if (strcmp(settings_str(CFG_LISTEN_ADDRESS), "0.0.0.0") == 0)
		settings_set(CFG_LISTEN_ADDRESS, "127.0.0.1");
	snprintf(buf, sizeof(buf), "http://127.0.0.1:%ld",
	    settings_int(CFG_PORT));
	settings_set(CFG_AGENT_URL, buf);
	if (settings_str(CFG_PROJECT)[0] == '\0')
		settings_set(CFG_PROJECT, "local-project");
	settings_set(CFG_REGION, "local-region");
	if (settings_str(CFG_SERVICE_ACCOUNT)[0] == '\0')
		settings_set(CFG_SERVICE_ACCOUNT,
		    "perf-agent@local-project.iam.gserviceaccount.com");
	if (settings_str(CFG_ALLOWED_INVOKERS)[0] == '\0')
		settings_set(CFG_ALLOWED_INVOKERS,
		    settings_str(CFG_SERVICE_ACCOUNT));
	if (settings_str(CFG_LOCALCLOUD_DIR)[0] == '\0') {
		snprintf(buf, sizeof(buf), "%s/localcloud",
		    settings_runtime_dir());
		settings_set(CFG_LOCALCLOUD_DIR, buf);
	}
	snprintf(buf, sizeof(buf), "%s/ca.pem",
	    settings_str(CFG_LOCALCLOUD_DIR));
	settings_set(CFG_CA_FILE, buf);
	/* LOCALCLOUD_METRICS_LAG hides the newest Monitoring samples, like
	 * the real metric's lag; 0 when unset or invalid. */
	lag = getenv("LOCALCLOUD_METRICS_LAG");
	if (lag != NULL && *lag != '\0') {
		lag_s = strtol(lag, &end, 10);
		if (*end != '\0' || lag_s < 0 || lag_s > 3600)
			lag_s = 0;
	}
	/* A cold sample waits for localcloud to stop the idle instance and
	 * for the lagging samples to show it. */
	if (!settings_is_set(CFG_SCALE_WAIT)) {
		snprintf(buf, sizeof(buf), "%ld",
		    3 * settings_int(CFG_IDLE_TIMEOUT) + 5 + lag_s);
		settings_set(CFG_SCALE_WAIT, buf);
	}
	/* localcloud's scheduler retries within about a second. */
	if (!settings_is_set(CFG_TRIGGER_GRACE))
		settings_set(CFG_TRIGGER_GRACE, "10");
	/* Without lag, two seconds of zeros suffice. */
	if (!settings_is_set(CFG_SCALE_WINDOW)) {
		snprintf(buf, sizeof(buf), "%ld", lag_s + 2);
		settings_set(CFG_SCALE_WINDOW, buf);
	}
	/* Scheduler jobs have minute granularity; locally a minute of the
	 * schedule passes in a second, so runs take seconds, not minutes. */
	setenv("LOCALCLOUD_SCHEDULER_TIME_SCALE", "60", 0);
	/* Services are private, as on Cloud Run, unless PUBLIC_SERVICES:
	 * localcloud checks the ID token of every request to them. */
	setenv("LOCALCLOUD_INVOKER_IAM", "1", 0);
	/* One log format for every process of the agent. */
	setenv("LOCALCLOUD_LOG_FORMAT", settings_str(CFG_LOG_FORMAT), 0);
	/* Implementations built out of tree find their binaries here. */
	setenv("PERF_AGENT_BUILDDIR", settings_libexec_dir(), 0);
}

/* Parses MEASURE_CPU into a CPU number, PIN_AUTO or PIN_OFF; returns -1
 * when it is none of them. */
static int
pin_parse(const char *value, long *cpu)
{
	char *end;

	if (strcmp(value, "auto") == 0) {
		*cpu = PIN_AUTO;
		return 0;
	}
	if (strcmp(value, "off") == 0) {
		*cpu = PIN_OFF;
		return 0;
	}
	if (value[0] < '0' || value[0] > '9')
		return -1;
	errno = 0;
	*cpu = strtol(value, &end, 10);
	if (errno != 0 || *end != '\0' || *cpu >= CPU_SETSIZE)
		return -1;
	return 0;
}

/* Writes a CPU set as a list such as "0-3,6", as in /proc/PID/status. */
static void
cpu_list(const cpu_set_t *set, char *buf, size_t size)
{
	size_t len = 0;
	int cpu, last;

	buf[0] = '\0';
	for (cpu = 0; cpu < CPU_SETSIZE && len < size; cpu++) {
		if (!CPU_ISSET(cpu, set))
			continue;
		for (last = cpu; last + 1 < CPU_SETSIZE &&
		    CPU_ISSET(last + 1, set); last++)
			;
		if (last == cpu)
			len += snprintf(buf + len, size - len, "%s%d",
			    len > 0 ? "," : "", cpu);
		else
			len += snprintf(buf + len, size - len, "%s%d-%d",
			    len > 0 ? "," : "", cpu, last);
		cpu = last;
	}
}

/*
 * Chooses the CPU sets of the children from MEASURE_CPU and the affinity
 * mask the supervisor started with, and logs the choice. measured gets one
 * CPU and every other child the rest, so that no worker, localcloud or
 * local service under test preempts the engine's thread. Pinning is
 * skipped, with a log line, when one CPU is allowed or when the requested
 * CPU is not in the mask.
 */
static void
pin_plan(long want)
{
	char allowed_list[256], other_list[256];
	cpu_set_t allowed;
	int cpu;

	if (want == PIN_OFF) {
		log_info("MEASURE_CPU=off: the workers are not pinned");
		return;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == -1) {
		log_warn("cannot read the CPU affinity mask; the workers are "
		    "not pinned");
		return;
	}
	cpu_list(&allowed, allowed_list, sizeof(allowed_list));
	if (CPU_COUNT(&allowed) < 2) {
		log_info("one CPU allowed (%s): measured is not pinned and "
		    "shares it with the other workers", allowed_list);
		return;
	}
	/* auto takes the last CPU: interrupts and housekeeping tend to
	 * land on the first ones. */
	if (want == PIN_AUTO)
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &allowed))
				want = cpu;
	if (!CPU_ISSET(want, &allowed)) {
		log_warnx("MEASURE_CPU=%ld is not in the CPU affinity mask "
		    "(%s); the workers run unpinned. Set MEASURE_CPU to one "
		    "of those CPUs, auto or off", want, allowed_list);
		return;
	}
	CPU_ZERO(&measure_cpus);
	CPU_SET(want, &measure_cpus);
	other_cpus = allowed;
	CPU_CLR(want, &other_cpus);
	pinning = 1;
	cpu_list(&other_cpus, other_list, sizeof(other_list));
	log_info("measured pinned to CPU %ld; the other workers%s on CPU%s %s",
	    want, settings_bool(CFG_LOCAL) ? ", localcloud and the services "
	    "it starts" : "", CPU_COUNT(&other_cpus) > 1 ? "s" : "",
	    other_list);
}

/* Gives this agent instance an id, so that its workers can tell their own
 * claims from those of other instances. */
static void
set_instance_id(void)
{
	unsigned char bytes[8];
	char id[2 * sizeof(bytes) + 1];
	size_t i;
	FILE *f;

	if (getenv("PERF_AGENT_INSTANCE") != NULL)
		return;
	if ((f = fopen("/dev/urandom", "r")) == NULL ||
	    fread(bytes, 1, sizeof(bytes), f) != sizeof(bytes))
		fatal("cannot read /dev/urandom");
	fclose(f);
	for (i = 0; i < sizeof(bytes); i++)
		snprintf(id + 2 * i, 3, "%02x", bytes[i]);
	setenv("PERF_AGENT_INSTANCE", id, 1);
}

/*
 * Takes the runtime folder for this agent: a second agent there would
 * replace the workers' sockets, and the first would lose its workers
 * while its /health still reported healthy. The lock lasts as long as the
 * process; the descriptor is closed in the workers.
 */
static void
lock_runtime_dir(void)
{
	char path[PATH_MAX], owner[32];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/perf-agent.lock",
	    settings_runtime_dir()) >= (int)sizeof(path))
		fatalx("runtime folder path too long");
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		fatal("cannot open %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			fatal("cannot lock %s", path);
		n = read(fd, owner, sizeof(owner) - 1);
		owner[n > 0 ? n : 0] = '\0';
		owner[strcspn(owner, "\n")] = '\0';
		fatalx("another perf-agent (pid %s) runs in the runtime folder "
		    "%s; stop it, or give this one a folder of its own with "
		    "--runtime-dir", owner[0] != '\0' ? owner : "unknown",
		    settings_runtime_dir());
	}
	n = snprintf(owner, sizeof(owner), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || write(fd, owner, (size_t)n) != n)
		log_warn("cannot write the pid into %s", path);
}

int
main(int argc, char **argv)
{
	struct event *sigchld, *sigterm, *sigint;
	struct timeval now = { 0, 0 };
	enum log_format format;
	char path[256];
	long measure_cpu;
	size_t i;

	settings_load(argc, argv, "perf-agent", "Runs the perf-agent workers "
	    "and restarts any that dies. --local runs everything offline "
	    "against localcloud.");
	if (log_format_parse(settings_str(CFG_LOG_FORMAT), &format) == -1) {
		fprintf(stderr, "perf-agent: invalid LOG_FORMAT \"%s\": use "
		    "json, text or auto\n", settings_str(CFG_LOG_FORMAT));
		return 2;
	}
	if (pin_parse(settings_str(CFG_MEASURE_CPU), &measure_cpu) == -1) {
		fprintf(stderr, "perf-agent: invalid MEASURE_CPU "
		    "(--measure-cpu) \"%.100s\": use auto, off or a CPU "
		    "number from 0 to %d\n",
		    settings_str(CFG_MEASURE_CPU), CPU_SETSIZE - 1);
		return 2;
	}
	log_init("supervisor", format, settings_bool(CFG_DEBUG));
	if (settings_bool(CFG_LOCAL))
		configure_local();
	set_instance_id();
	if (settings_str(CFG_RUNTIME_DIR)[0] == '\0')
		settings_set(CFG_RUNTIME_DIR, settings_runtime_dir());
	if (settings_export() == -1)
		fatal("cannot export the settings");
	if (mkdir(settings_runtime_dir(), 0700) == -1 && errno != EEXIST)
		fatal("cannot create the runtime folder %s",
		    settings_runtime_dir());
	lock_runtime_dir();
	/* Orphans of the workers (service instances of localcloud, say)
	 * become our children, so that we reap them and stop them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("cannot become the child subreaper");

	if ((base = event_base_new()) == NULL)
		fatalx("cannot create the event base");
	sigchld = evsignal_new(base, SIGCHLD, on_sigchld, NULL);
	sigterm = evsignal_new(base, SIGTERM, on_stop_signal, NULL);
	sigint = evsignal_new(base, SIGINT, on_stop_signal, NULL);
	ready_timer = evtimer_new(base, on_ready_timer, NULL);
	kill_timer = evtimer_new(base, on_kill_timer, NULL);
	if (sigchld == NULL || sigterm == NULL || sigint == NULL ||
	    ready_timer == NULL || kill_timer == NULL ||
	    evsignal_add(sigchld, NULL) == -1 ||
	    evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sigint, NULL) == -1)
		fatalx("cannot set up the event loop");
	signal(SIGPIPE, SIG_IGN);

	log_info("perf-agent %s starting (%s mode, runtime folder %s)",
	    PACKAGE_VERSION, settings_bool(CFG_LOCAL) ? "local" : "cloud",
	    settings_runtime_dir());
	pin_plan(measure_cpu);
	for (i = 0; i < NCHILDREN; i++) {
		struct child *c = &children[i];

		if (!child_enabled(c))
			continue;
		c->restart_timer = evtimer_new(base, child_restart, c);
		if (c->restart_timer == NULL)
			fatalx("cannot create a timer");
		if (c->ipc) {
			if (ipc_socket_path(path, sizeof(path),
			    settings_runtime_dir(), c->name) == -1)
				fatalx("runtime folder path too long");
			c->client = ipc_client_new(base, c->name, path);
			if (c->client == NULL)
				fatal("IPC client for %s", c->name);
		}
		child_start(c);
		if (exit_status != 0)
			break;
	}
	if (exit_status != 0)
		stop_children(exit_status);
	evtimer_add(ready_timer, &now);

	event_base_dispatch(base);

	/* Anything left (orphans, a worker that ignored SIGKILL's delay). */
	kill_descendants(SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	for (i = 0; i < NCHILDREN; i++) {
		ipc_client_free(children[i].client);
		if (children[i].restart_timer != NULL)
			event_free(children[i].restart_timer);
	}
	event_free(sigchld);
	event_free(sigterm);
	event_free(sigint);
	event_free(ready_timer);
	event_free(kill_timer);
	event_base_free(base);
	log_info("stopped with status %d", exit_status);
	return exit_status;
}
