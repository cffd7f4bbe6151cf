/*
 * Settings of the agent's programs: each has a command-line flag and an
 * environment variable in the Cloud Run style; a flag wins over the
 * variable, and the variable over the default. The supervisor exports the
 * effective values, so every worker it starts sees the same settings.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <stddef.h>

enum setting_key {
	CFG_PORT,
	CFG_LISTEN_ADDRESS,
	CFG_RUNTIME_DIR,
	CFG_DATA_DIR,
	CFG_LIBEXEC_DIR,
	CFG_SERVICE_TYPE,
	CFG_PROJECT,
	CFG_REGION,
	CFG_STATE_BUCKET,
	CFG_REGISTRY_BUCKET,
	CFG_AGENT_URL,
	CFG_SERVICE_ACCOUNT,
	CFG_ALLOWED_INVOKERS,
	CFG_AUTH_DISABLED,
	CFG_LOCAL,
	CFG_LOG_FORMAT,
	CFG_DEBUG,
	CFG_RUN_ENDPOINT,
	CFG_STORAGE_ENDPOINT,
	CFG_SCHEDULER_ENDPOINT,
	CFG_TASKS_ENDPOINT,
	CFG_MONITORING_ENDPOINT,
	CFG_LOGGING_ENDPOINT,
	CFG_METADATA_HOST,
	CFG_CERTS_URL,
	CFG_CA_FILE,
	CFG_MEASURE_TRIGGER,
	CFG_TASKS_QUEUE,
	CFG_IMAGE_REGISTRY,
	CFG_IMAGE_TAG,
	CFG_LOCALCLOUD_PORT,
	CFG_IDLE_TIMEOUT,
	CFG_MAX_RESTARTS,
	CFG_RESTART_WINDOW,
	CFG_MEASURE_CPU,
	CFG_SOCKET,
	CFG_LOCALCLOUD_DIR,
	CFG_SCALE_WAIT,
	CFG_TRIGGER_GRACE,
	CFG_SCALE_WINDOW,
	CFG_PUBLIC_SERVICES,
	CFG_COUNT
};

/*
 * Parses flags and environment into the settings; prints help or the
 * version and exits for --help and --version, and exits with status 2 on an
 * invalid value, naming the flag, the variable and the rule. Returns the
 * index of the first argument that is not an option.
 */
int		 settings_load(int argc, char **argv, const char *program,
	    const char *summary);
const char	*settings_str(enum setting_key);
long		 settings_int(enum setting_key);
int		 settings_bool(enum setting_key);
/* Returns 1 when a flag or the environment gave the setting. */
int		 settings_is_set(enum setting_key);
/* Sets a value as if it had come from the environment. */
int		 settings_set(enum setting_key, const char *value);
/* Puts every setting into the environment, for child processes. */
int		 settings_export(void);
/* Name of the setting's environment variable. */
const char	*settings_env_name(enum setting_key);
/* Id of this agent instance: set by the supervisor for its workers. */
const char	*settings_instance_id(void);
/* Folder of the worker sockets, created by the supervisor. */
const char	*settings_runtime_dir(void);
/* Folders of data files and worker programs, also in the build tree. */
const char	*settings_data_dir(void);
const char	*settings_libexec_dir(void);
/* Returns -1 naming the first endpoint that is not on loopback. */
int		 settings_check_loopback(char *err, size_t errlen);

#endif
