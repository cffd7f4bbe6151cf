/* stated: Stores run state in Cloud Storage: the only writer of state objects. */
#include "config.h"

#include "log.h"
#include "proto.h"
#include "worker.h"

static void
stated_handle(struct ipc_request *req)
{
	switch (req->type) {
	default:
		log_warnx("%s from %s is not a stated message",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unsupported_type", "stated does not handle "
		    "%s", proto_type_name(req->type));
		break;
	}
}

static const struct worker stated_worker = {
	.name = "stated",
	.summary = "Stores run state in Cloud Storage: the only writer of state objects.",
	.handle = stated_handle,
};

int
main(int argc, char **argv)
{
	return worker_main(&stated_worker, argc, argv);
}
