/*
 * The wire protocol between perf-agent's processes.
 *
 * A frame is a 4-byte big-endian length followed by that many bytes holding
 * one msgpack map:
 *
 *	"v"	protocol version (PROTO_VERSION), checked on every frame
 *	"t"	message type, one of enum msg_type
 *	"id"	request id chosen by the sender; a reply carries the same id
 *	"body"	a map whose fields depend on the type (notes below)
 *
 * Every request gets exactly one reply: MSG_OK with the request's result, or
 * MSG_ERROR. Values are never renumbered; a retired type keeps its number.
 * Bodies travel as msgpack and are handled as jansson values in the
 * processes, so their field lists below use JSON names and types.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdint.h>

#define PROTO_VERSION		1

/* Bytes of the length prefix. */
#define FRAME_HEADER_SIZE	4
/* Largest msgpack payload accepted, in bytes; checked before allocating. */
#define FRAME_MAX_SIZE		(8u * 1024 * 1024)

enum msg_type {
	/*
	 * 1-99: control, answered by every worker.
	 */
	MSG_PING = 1,		/* {} -> MSG_OK {worker, pid, version} */
	MSG_OK = 2,		/* reply: the request's result */
	MSG_ERROR = 3,		/* reply: {code, message} */

	/*
	 * 100-199: stated, the only reader and writer of run state.
	 * Object names are relative to the state bucket.
	 */
	MSG_STATE_GET = 100,	/* {object} -> {found, generation?, data?} */
	MSG_STATE_PUT = 101,	/* {object, data, if_generation?} ->
				   {generation}; if_generation "0" creates
				   only, a mismatch is error "precondition" */
	MSG_STATE_LIST = 102,	/* {prefix} -> {objects: [name]} */
	MSG_STATE_DELETE = 103,	/* {object} -> {deleted} */
	MSG_STATE_UPLOAD = 104,	/* {bucket, object, content_type, text} ->
				   {generation}; raw text such as YAML */

	/*
	 * 200-299: deployd, the Cloud Run and scheduler client.
	 */
	MSG_DEPLOY_RUN = 200,	/* {run_id, request} -> {run_id, status,
				   services_to_deploy, measure_scheduled_at,
				   state_url, scheduler_job} */
	MSG_CLEANUP_RUN = 201,	/* {run_id} -> {run_id, services_deleted,
				   scheduler_job_deleted} */
	MSG_SCHEDULE = 202,	/* {run_id, delay_s} -> {scheduled_at, job} */
	MSG_UNSCHEDULE = 203,	/* {run_id} -> {deleted} */
	MSG_SCALE_STATE = 204,	/* {service_name, since} -> {instances,
				   serving_instances: [id]} */
	MSG_ID_TOKEN = 205,	/* {audience, min_valid_s?} -> {token} */

	/*
	 * 300-399: measured, the measurement engine.
	 */
	MSG_MEASURE_RUN = 300,	/* {run_id} -> {run_id, status, results_url} */
	MSG_MEASURE_STATE = 301, /* {} -> {busy, run_id?} */
};

/* Name of a message type for logs and the JSON client, or NULL. */
const char	*proto_type_name(uint32_t type);
/* Type of a message name, or 0 when unknown. */
uint32_t	 proto_type_from_name(const char *name);

#endif
