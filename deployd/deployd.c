/* deployd: Deploys services to Cloud Run and schedules the measure phase. */
#include "config.h"

#include "log.h"
#include "proto.h"
#include "worker.h"

static void
deployd_handle(struct ipc_request *req)
{
	switch (req->type) {
	default:
		log_warnx("%s from %s is not a deployd message",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unsupported_type", "deployd does not handle "
		    "%s", proto_type_name(req->type));
		break;
	}
}

static const struct worker deployd_worker = {
	.name = "deployd",
	.summary = "Deploys services to Cloud Run and schedules the measure phase.",
	.handle = deployd_handle,
};

int
main(int argc, char **argv)
{
	return worker_main(&deployd_worker, argc, argv);
}
