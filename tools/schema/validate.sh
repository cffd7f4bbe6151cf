#!/bin/sh
# Validates a YAML or JSON file against a JSON Schema (draft 2020-12) with
# Ajv, or checks an OpenAPI document:
#
#   tools/schema/validate.sh SCHEMA[#FRAGMENT] FILE
#   tools/schema/validate.sh CONTRACT.openapi.yaml#/components/schemas/NAME FILE
#   tools/schema/validate.sh --openapi FILE
#   tools/schema/validate.sh --json FILE     (prints FILE as JSON)
#
# Exit status: 0 valid, 1 invalid, 2 on a usage or setup error.
#
# The first run installs the locked npm packages with npm ci: into this
# folder, or, when it is read-only (as in make distcheck), into
# $PERF_AGENT_SCHEMA_TOOLS (default ${TMPDIR:-/tmp}/perf-agent-schema-tools-UID).
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "validate.sh: node and npm are required: run scripts/install-deps.sh" >&2
	exit 2
fi

tools=$here
if [ ! -d "$here/node_modules" ] && [ ! -w "$here" ]; then
	tools=${PERF_AGENT_SCHEMA_TOOLS:-${TMPDIR:-/tmp}/perf-agent-schema-tools-$(id -u)}
	mkdir -p "$tools"
	# A copy made from another lock file is installed again.
	if ! cmp -s "$here/package-lock.json" "$tools/package-lock.json"; then
		rm -rf "$tools/node_modules"
		cp "$here/package.json" "$here/package-lock.json" "$tools/"
	fi
	cp "$here/validate.mjs" "$tools/validate.mjs.tmp"
	mv "$tools/validate.mjs.tmp" "$tools/validate.mjs"
fi

# Parallel test runs share the folder: one installs, the others wait.
install()
{
	if [ ! -d "$tools/node_modules" ]; then
		(cd "$tools" && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error) >&2 ||
			{ echo "validate.sh: npm ci failed in $tools" >&2; exit 2; }
	fi
}
if [ ! -d "$tools/node_modules" ]; then
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$tools/.install.lock"
		flock 9
		install
		flock -u 9
		exec 9>&-
	else
		install
	fi
fi

exec node "$tools/validate.mjs" "$@"
