/* Names of the message types, for logs and the JSON client. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "proto.h"

static const struct {
	uint32_t	 type;
	const char	*name;
} proto_names[] = {
	{ MSG_PING, "ping" },
	{ MSG_OK, "ok" },
	{ MSG_ERROR, "error" },
	{ MSG_STATE_GET, "state_get" },
	{ MSG_STATE_PUT, "state_put" },
	{ MSG_STATE_LIST, "state_list" },
	{ MSG_STATE_DELETE, "state_delete" },
	{ MSG_STATE_UPLOAD, "state_upload" },
	{ MSG_DEPLOY_RUN, "deploy_run" },
	{ MSG_CLEANUP_RUN, "cleanup_run" },
	{ MSG_SCHEDULE, "schedule" },
	{ MSG_UNSCHEDULE, "unschedule" },
	{ MSG_SCALE_STATE, "scale_state" },
	{ MSG_ID_TOKEN, "id_token" },
	{ MSG_MEASURE_RUN, "measure_run" },
	{ MSG_MEASURE_STATE, "measure_state" },
};

const char *
proto_type_name(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].type == type)
			return proto_names[i].name;
	return NULL;
}

uint32_t
proto_type_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strcmp(proto_names[i].name, name) == 0)
			return proto_names[i].type;
	return 0;
}
