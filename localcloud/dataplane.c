/*
 * The data plane's service ports and instances: each service listens on its
 * own port on 127.0.0.1, and proxy.c forwards each connection to an
 * instance of the serving revision. Instances are started on demand (scale
 * from zero), added when open connections exceed the revision's concurrency
 * (up to its maximum), and stopped after the idle timeout: SIGTERM, then
 * SIGKILL 10 s later, as Cloud Run does.
 *
 * Concurrency is counted in open connections, not requests, so a keep-alive
 * connection keeps its slot until it closes.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/rand.h>

#include "log.h"
#include "localcloud.h"
#include "dataplane.h"
#include "invoker.h"
#include "run.h"

extern char **environ;

#define DP_CONNECT_RETRY_MS	5	/* while waiting for an instance */
#define DP_KILL_GRACE_S		10	/* SIGTERM to SIGKILL, as Cloud Run */
#define DP_REBIND_S		1	/* between binds of a taken port */
#define DP_REBIND_LOG_EVERY	60	/* failed binds between warnings */
#define DP_PORT_TRIES		16	/* picks of a port nobody awaits */

static void	instance_stop(struct dp_instance *, int sig);
static void	instance_try_connect(struct dp_instance *);

void
dp_mono_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

/* Microseconds since a CLOCK_MONOTONIC time. */
uint64_t
dp_elapsed_us(const struct timespec *since)
{
	struct timespec now;

	dp_mono_now(&now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	    (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000);
}

void
dp_set_nodelay(evutil_socket_t fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("TCP_NODELAY");
}

/* Whether a restored service waits for port, so that nothing else of
 * localcloud's may take it. */
static int
port_awaited(struct lc *lc, uint16_t port)
{
	struct run_state *rs = lc->run;
	struct run_service *svc;

	TAILQ_FOREACH(svc, &rs->services, entry)
		if (svc->rebind != NULL && svc->port == port)
			return 1;
	return 0;
}

/* Finds a free port on 127.0.0.1 for an instance. Another program may take
 * it before the instance binds; the instance then fails to start and the
 * next connection starts another. */
static int
free_port(struct lc *lc, uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len;
	int fd, tries;

	for (tries = 0; tries < DP_PORT_TRIES; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(sin);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
			close(fd);
			return -1;
		}
		close(fd);
		*port = ntohs(sin.sin_port);
		if (!port_awaited(lc, *port))
			return 0;
	}
	errno = EADDRINUSE;
	return -1;
}


/* Takes c off its instance, which idles or stops when it was the last
 * connection. */
void
dp_detach(struct dp_conn *c)
{
	struct dp_instance *inst = c->inst;
	struct timeval tv;

	if (inst == NULL)
		return;
	TAILQ_REMOVE(&inst->conns, c, ientry);
	c->inst = NULL;
	inst->nconns--;
	dp_mono_now(&inst->last_active);
	if (inst->nconns > 0 || inst->state != DP_READY)
		return;
	if (inst->retiring || inst->svc == NULL) {
		instance_stop(inst, SIGTERM);
		return;
	}
	tv.tv_sec = inst->dp->lc->idle_timeout;
	tv.tv_usec = 0;
	evtimer_add(inst->timer, &tv);
}

/* ---- instances ---- */

/* Builds the environment of an instance: localcloud's own, then the
 * service's variables, then the ones Cloud Run sets, which win. */
static char **
instance_env(const struct dp_instance *inst)
{
	const struct run_revision *rev = inst->rev;
	size_t n = 0, m = 0, i, j, k;
	char **env, *set[4];
	const char *svc_id = inst->svc->id;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	for (i = 0; rev->env[i] != NULL; i++)
		m++;
	if ((env = calloc(n + m + 5, sizeof(*env))) == NULL)
		return NULL;
	memset(set, 0, sizeof(set));
	if (asprintf(&set[0], "PORT=%u", inst->port) == -1 ||
	    asprintf(&set[1], "K_SERVICE=%s", svc_id) == -1 ||
	    asprintf(&set[2], "K_REVISION=%s", rev->name) == -1 ||
	    asprintf(&set[3], "K_CONFIGURATION=%s", svc_id) == -1) {
		for (i = 0; i < 4; i++)
			free(set[i]);
		free(env);
		return NULL;
	}

	/* Strings from environ and rev->env are borrowed, set[] owned. */
	k = 0;
	for (i = 0; i < 4; i++)
		env[k++] = set[i];
	for (i = 0; i < m; i++) {
		size_t len = strcspn(rev->env[i], "=") + 1;

		for (j = 0; j < k; j++)
			if (strncmp(env[j], rev->env[i], len) == 0)
				break;
		if (j == k)
			env[k++] = rev->env[i];
	}
	for (i = 0; i < n; i++) {
		size_t len = strcspn(environ[i], "=") + 1;

		for (j = 0; j < k; j++)
			if (strncmp(env[j], environ[i], len) == 0)
				break;
		if (j == k)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

static void
instance_env_free(char **env)
{
	int i;

	for (i = 0; i < 4; i++)
		free(env[i]);
	free(env);
}

/* Picks the CPUs an instance with rev->cpus CPUs may use, round robin so
 * that instances spread over the host. */
static void
instance_cpus(struct dp_state *dp, const struct run_revision *rev,
    cpu_set_t *set)
{
	unsigned int want = rev->cpus, i, seen;
	int cpu = 0;

	*set = dp->cpus;
	if (want == 0 || (int)want >= dp->ncpus)
		return;
	CPU_ZERO(set);
	for (seen = 0, i = 0; i < want; seen++) {
		cpu = (int)((dp->next_cpu + seen) % CPU_SETSIZE);
		if (seen >= CPU_SETSIZE)
			break;
		if (!CPU_ISSET(cpu, &dp->cpus))
			continue;
		CPU_SET(cpu, set);
		i++;
	}
	dp->next_cpu = (unsigned int)(cpu + 1) % CPU_SETSIZE;
}

/* Runs in the child after fork: limits, descriptors, then exec. Only
 * async-signal-safe calls, since localcloud may be anywhere in malloc. */
static void __attribute__((noreturn))
instance_exec(const struct run_revision *rev, char **env, int log_fd,
    const cpu_set_t *cpus)
{
	struct rlimit rl;
	sigset_t all;
	char *argv[2];
	int null_fd;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if ((null_fd = open("/dev/null", O_RDONLY)) != -1)
		dup2(null_fd, STDIN_FILENO);
	if (log_fd != -1) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
	}
	close_range(3, ~0U, 0);
	if (rev->memory_bytes > 0) {
		rl.rlim_cur = rl.rlim_max = rev->memory_bytes;
		if (setrlimit(RLIMIT_DATA, &rl) == -1)
			_exit(126);
	}
	(void)sched_setaffinity(0, sizeof(*cpus), cpus);
	if (chdir(rev->work_dir) == -1)
		_exit(126);
	argv[0] = rev->run_path;
	argv[1] = NULL;
	execve(rev->run_path, argv, env);
	_exit(127);
}

static void
on_instance_timer(evutil_socket_t fd, short events, void *arg);

/* Starts an instance of svc's revision rev; returns NULL on failure. */
static struct dp_instance *
instance_start(struct run_service *svc, struct run_revision *rev)
{
	struct dp_state *dp = svc->lc->dataplane;
	struct dp_instance *inst;
	unsigned char raw[RUN_INSTANCE_ID_LEN / 2];
	char log_path[LC_PATH_MAX], **env = NULL;
	cpu_set_t cpus;
	int log_fd = -1, i;
	struct timeval tv = { 0, 0 };

	if ((inst = calloc(1, sizeof(*inst))) == NULL)
		return NULL;
	TAILQ_INIT(&inst->conns);
	inst->dp = dp;
	inst->svc = svc;
	inst->rev = run_revision_ref(rev);
	inst->connect_fd = -1;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatalx("the OpenSSL random generator failed");
	for (i = 0; i < (int)sizeof(raw); i++)
		snprintf(inst->id + 2 * i, 3, "%02x", raw[i]);
	if ((inst->service_name = strdup(svc->name)) == NULL ||
	    (inst->timer = evtimer_new(svc->lc->base, on_instance_timer,
	    inst)) == NULL || free_port(svc->lc, &inst->port) == -1 ||
	    (env = instance_env(inst)) == NULL)
		goto fail;

	if (snprintf(log_path, sizeof(log_path), "%s/%s.%s.%s.log",
	    dp->log_dir, svc->project, svc->location, svc->id) >=
	    (int)sizeof(log_path))
		log_fd = -1;
	else if ((log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0600)) == -1)
		log_warn("cannot open %s; the instance output is lost",
		    log_path);
	instance_cpus(dp, rev, &cpus);

	dp_mono_now(&inst->started);
	inst->deadline = inst->started;
	inst->deadline.tv_sec += dp->lc->startup_timeout;
	inst->pid = fork();
	if (inst->pid == -1) {
		log_warn("service %s: cannot fork an instance", svc->name);
		goto fail;
	}
	if (inst->pid == 0)
		instance_exec(rev, env, log_fd, &cpus);
	(void)setpgid(inst->pid, inst->pid);
	if (log_fd != -1)
		close(log_fd);
	instance_env_free(env);

	inst->state = DP_STARTING;
	TAILQ_INSERT_TAIL(&svc->instances, inst, entry);
	log_info("service %s: instance %s started (pid %d, port %u, revision "
	    "%s, cpus %u, memory %llu bytes)", svc->name, inst->id,
	    (int)inst->pid, inst->port, rev->name, rev->cpus,
	    (unsigned long long)rev->memory_bytes);
	evtimer_add(inst->timer, &tv);
	return inst;

fail:
	if (log_fd != -1)
		close(log_fd);
	if (env != NULL)
		instance_env_free(env);
	if (inst->timer != NULL)
		event_free(inst->timer);
	run_revision_unref(inst->rev);
	free(inst->service_name);
	free(inst);
	return NULL;
}

/* Sends sig to the instance's process group; SIGTERM also arms the
 * SIGKILL that follows after the grace period. */
static void
instance_stop(struct dp_instance *inst, int sig)
{
	struct timeval tv = { DP_KILL_GRACE_S, 0 };

	if (inst->pid <= 0)
		return;
	if (sig == SIGTERM && inst->state == DP_STOPPING)
		return;
	if (inst->connect_ev != NULL) {
		event_free(inst->connect_ev);
		inst->connect_ev = NULL;
		close(inst->connect_fd);
		inst->connect_fd = -1;
	}
	log_info("service %s: stopping instance %s (pid %d) with %s",
	    inst->service_name, inst->id, (int)inst->pid,
	    sig == SIGTERM ? "SIGTERM" : "SIGKILL");
	if (kill(-inst->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %d", (int)inst->pid);
	inst->state = DP_STOPPING;
	evtimer_del(inst->timer);
	if (sig == SIGTERM)
		evtimer_add(inst->timer, &tv);
}

/* The instance listens: fd is a connection to it, or -1. */
static void
instance_ready(struct dp_instance *inst, evutil_socket_t fd)
{
	struct dp_conn *c, *next;
	dp_probe_cb cb = inst->probe_cb;
	struct timeval tv;

	inst->state = DP_READY;
	evtimer_del(inst->timer);
	log_info("service %s: instance %s listening on port %u after %llu ms",
	    inst->service_name, inst->id, inst->port,
	    (unsigned long long)(dp_elapsed_us(&inst->started) / 1000));
	inst->probe_cb = NULL;
	if (cb != NULL)
		cb(inst->probe_arg, 1, NULL, NULL);

	for (c = TAILQ_FIRST(&inst->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ientry);
		if (c->ufd != -1 || c->state != DP_CONN_OPEN)
			continue;
		proxy_connect(c, fd);
		fd = -1;
	}
	if (fd != -1)
		close(fd);
	if (inst->nconns == 0) {
		if (inst->retiring || inst->svc == NULL) {
			instance_stop(inst, SIGTERM);
		} else {
			tv.tv_sec = inst->dp->lc->idle_timeout;
			tv.tv_usec = 0;
			evtimer_add(inst->timer, &tv);
		}
	}
}

/* Fails a starting instance: its waiting connections and its probe. */
static void
instance_start_failed(struct dp_instance *inst, int status,
    const char *reason, const char *message)
{
	struct dp_conn *c, *next;
	dp_probe_cb cb = inst->probe_cb;

	inst->probe_cb = NULL;
	for (c = TAILQ_FIRST(&inst->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ientry);
		if (c->ufd == -1)
			proxy_fail(c, status, status == 502 ? "Bad Gateway" :
			    "Service Unavailable", message);
	}
	if (cb != NULL)
		cb(inst->probe_arg, 0, reason, message);
}

static void
on_connect_done(evutil_socket_t fd, short events, void *arg)
{
	struct dp_instance *inst = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	struct timeval tv = { 0, DP_CONNECT_RETRY_MS * 1000 };

	event_free(inst->connect_ev);
	inst->connect_ev = NULL;
	inst->connect_fd = -1;
	if ((events & EV_WRITE) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &len) == 0 && err == 0) {
		instance_ready(inst, fd);
		return;
	}
	close(fd);
	evtimer_add(inst->timer, &tv);
}

/* One attempt to connect to a starting instance's port. */
static void
instance_try_connect(struct dp_instance *inst)
{
	struct sockaddr_in sin;
	struct timeval tv = { 0, DP_CONNECT_RETRY_MS * 1000 };
	struct timespec now;
	char msg[512];
	int fd;

	dp_mono_now(&now);
	if (now.tv_sec > inst->deadline.tv_sec ||
	    (now.tv_sec == inst->deadline.tv_sec &&
	    now.tv_nsec >= inst->deadline.tv_nsec)) {
		snprintf(msg, sizeof(msg), "The user-provided container failed "
		    "to start and listen on the port defined by the PORT=%u "
		    "environment variable within %u s.", inst->port,
		    inst->dp->lc->startup_timeout);
		log_warnx("service %s: instance %s: %s", inst->service_name,
		    inst->id, msg);
		instance_stop(inst, SIGKILL);
		instance_start_failed(inst, 503, "HEALTH_CHECK_CONTAINER_ERROR",
		    msg);
		return;
	}

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		evtimer_add(inst->timer, &tv);
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(inst->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		instance_ready(inst, fd);
		return;
	}
	if (errno == EINPROGRESS) {
		struct timeval limit = { 1, 0 };

		inst->connect_ev = event_new(inst->dp->lc->base, fd, EV_WRITE,
		    on_connect_done, inst);
		if (inst->connect_ev != NULL &&
		    event_add(inst->connect_ev, &limit) == 0) {
			inst->connect_fd = fd;
			return;
		}
		if (inst->connect_ev != NULL)
			event_free(inst->connect_ev);
		inst->connect_ev = NULL;
	}
	close(fd);
	evtimer_add(inst->timer, &tv);
}

/* The instance timer: connect retries while starting, the idle timeout
 * when ready, and the SIGKILL after the grace period when stopping. */
static void
on_instance_timer(evutil_socket_t fd, short events, void *arg)
{
	struct dp_instance *inst = arg;

	switch (inst->state) {
	case DP_STARTING:
		instance_try_connect(inst);
		break;
	case DP_READY:
		if (inst->nconns == 0) {
			log_info("service %s: instance %s idle for %u s",
			    inst->service_name, inst->id,
			    inst->dp->lc->idle_timeout);
			instance_stop(inst, SIGTERM);
		}
		break;
	case DP_STOPPING:
		instance_stop(inst, SIGKILL);
		break;
	}
}

static void
instance_free(struct dp_instance *inst)
{
	struct dp_conn *c;

	while ((c = TAILQ_FIRST(&inst->conns)) != NULL) {
		TAILQ_REMOVE(&inst->conns, c, ientry);
		c->inst = NULL;
	}
	if (inst->connect_ev != NULL) {
		event_free(inst->connect_ev);
		close(inst->connect_fd);
	}
	event_free(inst->timer);
	run_revision_unref(inst->rev);
	free(inst->service_name);
	free(inst);
}

/* Handles the exit of one instance's process. */
static void
instance_exited(struct dp_instance *inst, int status)
{
	char how[64], msg[512];
	struct dp_conn *c, *next;

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	if (inst->state == DP_STOPPING)
		log_info("service %s: instance %s (pid %d) %s after %.3f s",
		    inst->service_name, inst->id, (int)inst->pid, how,
		    (double)dp_elapsed_us(&inst->started) / 1e6);
	else
		log_warnx("service %s: instance %s (pid %d) %s after %.3f s "
		    "while %s", inst->service_name, inst->id, (int)inst->pid,
		    how, (double)dp_elapsed_us(&inst->started) / 1e6,
		    inst->state == DP_STARTING ? "starting" : "serving");

	if (inst->state == DP_STARTING) {
		snprintf(msg, sizeof(msg), "The user-provided container %s "
		    "before listening on the port defined by the PORT=%u "
		    "environment variable.", how, inst->port);
		inst->state = DP_STOPPING;
		instance_start_failed(inst, 502, "HEALTH_CHECK_CONTAINER_ERROR",
		    msg);
	}

	/* Connections still waiting for it get an error now. */
	for (c = TAILQ_FIRST(&inst->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ientry);
		if (c->ufd == -1)
			proxy_fail(c, 502, "Bad Gateway", "localcloud: the "
			    "instance exited.");
	}
	inst->pid = -1;
	if (inst->svc != NULL)
		TAILQ_REMOVE(&inst->svc->instances, inst, entry);
	else
		TAILQ_REMOVE(&inst->dp->orphans, inst, entry);
	instance_free(inst);
}

/* Finds the instance whose process is pid, in services and orphans. */
static struct dp_instance *
instance_by_pid(struct lc *lc, pid_t pid)
{
	struct dp_state *dp = lc->dataplane;
	struct run_state *rs = lc->run;
	struct run_service *svc;
	struct dp_instance *inst;

	TAILQ_FOREACH(svc, &rs->services, entry)
		TAILQ_FOREACH(inst, &svc->instances, entry)
			if (inst->pid == pid)
				return inst;
	TAILQ_FOREACH(inst, &dp->orphans, entry)
		if (inst->pid == pid)
			return inst;
	return NULL;
}

/*
 * Reaps exited children. The group is killed while the exited leader is
 * still a zombie, so that what it left behind goes too and its pid cannot
 * have been reused by another group yet.
 */
static void
reap_children(struct lc *lc)
{
	struct dp_instance *inst;
	siginfo_t si;
	int status;
	pid_t pid;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
		    si.si_pid == 0)
			return;
		pid = si.si_pid;
		(void)kill(-pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid)
			return;
		if ((inst = instance_by_pid(lc, pid)) != NULL)
			instance_exited(inst, status);
	}
}

static void
on_sigchld(evutil_socket_t sig, short events, void *arg)
{
	reap_children(arg);
}

/* Chooses the instance for a new connection, starting one if needed. */
static struct dp_instance *
instance_pick(struct run_service *svc)
{
	struct run_revision *rev = svc->serving;
	struct dp_instance *inst, *best = NULL, *starting = NULL, *any = NULL;
	unsigned int live = 0;

	TAILQ_FOREACH(inst, &svc->instances, entry) {
		if (inst->rev != rev || inst->retiring ||
		    inst->state == DP_STOPPING)
			continue;
		live++;
		if (any == NULL || inst->nconns < any->nconns)
			any = inst;
		if (inst->nconns >= rev->concurrency)
			continue;
		if (inst->state == DP_READY &&
		    (best == NULL || inst->nconns < best->nconns))
			best = inst;
		if (inst->state == DP_STARTING && starting == NULL)
			starting = inst;
	}
	if (best != NULL)
		return best;
	if (starting != NULL)
		return starting;
	if (live < rev->max_instances)
		return instance_start(svc, rev);

	/* At the maximum, extra connections share the least loaded
	 * instance instead of queueing. */
	return any;
}

/* Attaches c to an instance of its service, starting one if needed.
 * Returns -1 when no instance can be had. */
int
dp_attach(struct dp_conn *c)
{
	struct dp_instance *inst;

	if ((inst = instance_pick(c->svc)) == NULL)
		return -1;
	c->inst = inst;
	inst->nconns++;
	TAILQ_INSERT_TAIL(&inst->conns, c, ientry);
	memcpy(c->instance_id, inst->id, sizeof(c->instance_id));
	if (inst->state == DP_READY)
		evtimer_del(inst->timer);
	return 0;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int slen, void *arg)
{
	proxy_accept(arg, fd, sa);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct run_service *svc = arg;

	log_warn("service %s: accept", svc->name);
}

/* ---- interface ---- */

/* Listens on port, or on a free port when it is 0, skipping the ports
 * that restored services wait for. */
int
dataplane_open(struct run_service *svc, uint16_t port)
{
	struct sockaddr_in sin;
	socklen_t len;
	evutil_socket_t fd;
	int tries;

	for (tries = 0; tries < DP_PORT_TRIES; tries++) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		svc->listener = evconnlistener_new_bind(svc->lc->base,
		    on_accept, svc, LEV_OPT_CLOSE_ON_FREE |
		    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, -1,
		    (struct sockaddr *)&sin, sizeof(sin));
		if (svc->listener == NULL)
			return -1;
		evconnlistener_set_error_cb(svc->listener, on_accept_error);
		fd = evconnlistener_get_fd(svc->listener);
		len = sizeof(sin);
		if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
			evconnlistener_free(svc->listener);
			svc->listener = NULL;
			return -1;
		}
		if (port != 0 || !port_awaited(svc->lc, ntohs(sin.sin_port))) {
			svc->port = ntohs(sin.sin_port);
			return 0;
		}
		evconnlistener_free(svc->listener);
		svc->listener = NULL;
	}
	errno = EADDRINUSE;
	return -1;
}

/* Binds a taken port once it is free. Every DP_REBIND_LOG_EVERY-th
 * failed attempt logs a warning. */
static void
on_rebind_timer(evutil_socket_t fd, short events, void *arg)
{
	struct run_service *svc = arg;
	struct timeval tv = { DP_REBIND_S, 0 };
	uint16_t port = svc->port;

	if (dataplane_open(svc, port) == 0) {
		log_info("service %s: port %u is free again; serving at it",
		    svc->name, port);
		event_free(svc->rebind);
		svc->rebind = NULL;
		return;
	}
	if (++svc->rebind_tries % DP_REBIND_LOG_EVERY == 0)
		log_warnx("service %s: port %u is still taken by another "
		    "program; its uri keeps that port", svc->name, port);
	(void)evtimer_add(svc->rebind, &tv);
}

/*
 * Keeps a restored service at its port while another program has it: a
 * Cloud Run URL never changes, so the service waits for the port rather
 * than move. Connections to the port reach the other program until then.
 */
int
dataplane_open_later(struct run_service *svc, uint16_t port)
{
	struct timeval tv = { DP_REBIND_S, 0 };

	svc->port = port;
	svc->rebind_tries = 0;
	if ((svc->rebind = evtimer_new(svc->lc->base, on_rebind_timer,
	    svc)) == NULL)
		return -1;
	if (evtimer_add(svc->rebind, &tv) == -1) {
		event_free(svc->rebind);
		svc->rebind = NULL;
		return -1;
	}
	log_warnx("service %s: port %u is taken by another program; binding "
	    "it once it is free (every %d s)", svc->name, port, DP_REBIND_S);
	return 0;
}

void
dataplane_close(struct run_service *svc)
{
	struct dp_state *dp = svc->lc->dataplane;
	struct dp_instance *inst;
	struct dp_conn *c;

	if (svc->listener != NULL)
		evconnlistener_free(svc->listener);
	svc->listener = NULL;
	if (svc->rebind != NULL)
		event_free(svc->rebind);
	svc->rebind = NULL;
	while ((c = TAILQ_FIRST(&svc->conns)) != NULL)
		proxy_free(c);
	while ((inst = TAILQ_FIRST(&svc->instances)) != NULL) {
		TAILQ_REMOVE(&svc->instances, inst, entry);
		inst->svc = NULL;
		inst->probe_cb = NULL;
		TAILQ_INSERT_TAIL(&dp->orphans, inst, entry);
		instance_stop(inst, SIGTERM);
	}
	run_revision_unref(svc->serving);
	svc->serving = NULL;
}

int
dataplane_probe(struct run_service *svc, struct run_revision *rev,
    dp_probe_cb cb, void *arg, char *msg, size_t msg_size)
{
	struct dp_instance *inst;

	if ((inst = instance_start(svc, rev)) == NULL) {
		snprintf(msg, msg_size, "localcloud cannot start an instance: "
		    "%s.", strerror(errno));
		return -1;
	}
	inst->probe_cb = cb;
	inst->probe_arg = arg;
	return 0;
}

void
dataplane_cancel_probe(struct run_service *svc, void *arg)
{
	struct dp_instance *inst;

	TAILQ_FOREACH(inst, &svc->instances, entry) {
		if (inst->probe_cb == NULL || inst->probe_arg != arg)
			continue;
		inst->probe_cb = NULL;
		inst->retiring = 1;
		if (inst->nconns == 0)
			instance_stop(inst, SIGTERM);
	}
}

void
dataplane_serve(struct run_service *svc, struct run_revision *rev)
{
	struct dp_instance *inst;

	run_revision_ref(rev);
	run_revision_unref(svc->serving);
	svc->serving = rev;

	/* Instances of older revisions finish their connections, then go. */
	TAILQ_FOREACH(inst, &svc->instances, entry) {
		if (inst->rev == rev || inst->retiring)
			continue;
		inst->retiring = 1;
		if (inst->nconns == 0 && inst->state == DP_READY)
			instance_stop(inst, SIGTERM);
	}
}

void
dataplane_counts(struct run_service *svc, struct dp_counts *counts)
{
	struct dp_instance *inst;

	counts->active = counts->idle = 0;
	TAILQ_FOREACH(inst, &svc->instances, entry) {
		/* Active: starting, or serving now or in the last second (the
		 * sampling period), so that short requests are seen. */
		if (inst->state == DP_STARTING || (inst->state == DP_READY &&
		    (inst->nconns > 0 || (inst->last_active.tv_sec != 0 &&
		    dp_elapsed_us(&inst->last_active) < 1000000))))
			counts->active++;
		else
			counts->idle++;
	}
}

int
dataplane_init(struct lc *lc)
{
	struct dp_state *dp;

	if ((dp = calloc(1, sizeof(*dp))) == NULL)
		return -1;
	dp->lc = lc;
	TAILQ_INIT(&dp->orphans);
	if (sched_getaffinity(0, sizeof(dp->cpus), &dp->cpus) == -1) {
		log_warn("sched_getaffinity");
		CPU_ZERO(&dp->cpus);
		CPU_SET(0, &dp->cpus);
	}
	dp->ncpus = CPU_COUNT(&dp->cpus);
	if (snprintf(dp->log_dir, sizeof(dp->log_dir), "%s/run/logs",
	    lc->data_dir) >= (int)sizeof(dp->log_dir) ||
	    (mkdir(dp->log_dir, 0700) == -1 && errno != EEXIST)) {
		/* The parent folder may not exist yet on a first start. */
		char parent[LC_PATH_MAX];

		snprintf(parent, sizeof(parent), "%s/run", lc->data_dir);
		if ((mkdir(parent, 0700) == -1 && errno != EEXIST) ||
		    (mkdir(dp->log_dir, 0700) == -1 && errno != EEXIST)) {
			log_warn("cannot create %s", dp->log_dir);
			free(dp);
			return -1;
		}
	}
	if (invoker_init(lc) == -1) {
		free(dp);
		return -1;
	}
	dp->sigchld = evsignal_new(lc->base, SIGCHLD, on_sigchld, lc);
	if (dp->sigchld == NULL || evsignal_add(dp->sigchld, NULL) == -1) {
		log_warnx("cannot watch SIGCHLD");
		if (dp->sigchld != NULL)
			event_free(dp->sigchld);
		invoker_shutdown(lc);
		free(dp);
		return -1;
	}
	lc->dataplane = dp;
	return 0;
}

/*
 * Stops every instance left. The services are closed already, so all are
 * orphans and have had SIGTERM. Waits up to the grace period, then sends
 * SIGKILL to the rest. It blocks because the event loop is over.
 */
void
dataplane_shutdown(struct lc *lc)
{
	struct dp_state *dp = lc->dataplane;
	struct dp_instance *inst;
	struct timespec start, pause = { 0, 20 * 1000 * 1000 };
	int status;
	pid_t pid;

	if (dp == NULL)
		return;
	dp_mono_now(&start);
	while (!TAILQ_EMPTY(&dp->orphans) &&
	    dp_elapsed_us(&start) < DP_KILL_GRACE_S * 1000000ULL) {
		TAILQ_FOREACH(inst, &dp->orphans, entry)
			instance_stop(inst, SIGTERM);
		reap_children(lc);
		if (!TAILQ_EMPTY(&dp->orphans))
			nanosleep(&pause, NULL);
	}
	while ((inst = TAILQ_FIRST(&dp->orphans)) != NULL) {
		pid = inst->pid;
		instance_stop(inst, SIGKILL);
		if (waitpid(pid, &status, 0) == pid)
			instance_exited(inst, status);
		else {
			TAILQ_REMOVE(&dp->orphans, inst, entry);
			instance_free(inst);
		}
	}
	event_free(dp->sigchld);
	invoker_shutdown(lc);
	free(dp);
	lc->dataplane = NULL;
}
