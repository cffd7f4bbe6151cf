/* measured: Measures contract compliance, cold starts and warm requests. */
#include "config.h"

#include "log.h"
#include "proto.h"
#include "worker.h"

static void
measured_handle(struct ipc_request *req)
{
	switch (req->type) {
	default:
		log_warnx("%s from %s is not a measured message",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unsupported_type", "measured does not handle "
		    "%s", proto_type_name(req->type));
		break;
	}
}

static const struct worker measured_worker = {
	.name = "measured",
	.summary = "Measures contract compliance, cold starts and warm requests.",
	.handle = measured_handle,
};

int
main(int argc, char **argv)
{
	return worker_main(&measured_worker, argc, argv);
}
