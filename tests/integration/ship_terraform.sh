#!/bin/sh
# terraform/ parses and is formatted as terraform fmt writes it. A full
# terraform validate needs the Google provider, which terraform init
# downloads; without a network it cannot run here.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 2

if ! command -v terraform >/dev/null 2>&1; then
	skip "terraform is not installed"
	skip "terraform is not installed"
	exit 0
fi

# An empty CLI configuration: no plugin cache, no credentials, no warnings.
: >"$T_DIR/terraformrc"
export TF_CLI_CONFIG_FILE="$T_DIR/terraformrc"
export CHECKPOINT_DISABLE=1
cp -R "$S/terraform" "$T_DIR/tf"
chmod -R u+w "$T_DIR/tf"

terraform fmt -check -diff -recursive "$T_DIR/tf" >"$T_DIR/fmt.out" 2>&1
check "terraform fmt finds every file formatted" test $? -eq 0

# A syntax error must fail the same command, so that the check above
# means the files parse.
printf 'resource "x" "y" {\n' >>"$T_DIR/tf/main.tf"
terraform fmt -check "$T_DIR/tf" >"$T_DIR/fmt-broken.out" 2>&1
check "terraform fmt rejects a file that does not parse" test $? -ne 0
