#!/bin/sh
# .github/workflows/deploy-agent.yml cannot run here, so it is read: the
# YAML parses, every run script passes bash -n with the ${{ }} expressions
# replaced, every repository file a script names exists, and every action
# is pinned to a version.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 4

WORKFLOW=$S/.github/workflows/deploy-agent.yml
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	for i in 1 2 3 4; do
		skip "node and npm are not installed (the YAML parser is an npm package)"
	done
	exit 0
fi

"$S/tools/schema/validate.sh" --json "$WORKFLOW" >"$T_DIR/workflow.json" \
    2>"$T_DIR/parse.err"
check "the workflow parses as YAML" test $? -eq 0

# One JSON line per step that has a run script or uses an action.
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for job in d.get("jobs", {}).values():
    for i, step in enumerate(job.get("steps", [])):
        for key in ("run", "uses"):
            if key in step:
                print(json.dumps({"i": i, key: step[key]}))' \
    "$T_DIR/workflow.json" >"$T_DIR/steps.jsonl" 2>>"$T_DIR/parse.err"

bad=""
n=0
while IFS= read -r line; do
	script=$(printf '%s' "$line" | python3 -c 'import json, re, sys
s = json.load(sys.stdin).get("run")
if s is not None:
    print(re.sub(r"\$\{\{[^}]*\}\}", "X", s))')
	[ -n "$script" ] || continue
	n=$((n + 1))
	printf '%s\n' "$script" >"$T_DIR/run$n.sh"
	bash -n "$T_DIR/run$n.sh" 2>>"$T_DIR/bash-n.err" || bad="$bad run$n"
	for f in $(grep -o '\(container\|tools\|schemas\)/[A-Za-z0-9_./-]*' \
	    "$T_DIR/run$n.sh"); do
		[ -e "$S/$f" ] || bad="$bad $f(missing)"
	done
done <"$T_DIR/steps.jsonl"
check "the $n run scripts pass bash -n and name existing files${bad:+ (failed:$bad)}" \
    test -z "$bad" -a "$n" -gt 0

unpinned=$(python3 -c 'import json, sys
for line in open(sys.argv[1]):
    u = json.loads(line).get("uses")
    if u is not None and "@" not in u:
        print(u)' "$T_DIR/steps.jsonl")
check "every action names a version${unpinned:+ (unpinned: $unpinned)}" \
    test -z "$unpinned"
check "the deploy step keeps CPU allocated and the 1800 s timeout" \
    grep -q -- '--no-cpu-throttling --timeout 1800' "$WORKFLOW"
