# Shipping perf-agent: the data files make install adds to the data folder,
# and the checks of the container image, the systemd unit, the Terraform
# configuration and registration.

# contract/ goes to the data folder ($(pkgdatadir)), where measured reads
# the test vectors; common/api.mk installs manifest.yaml beside it.
# tests/integration/ship_dockerfile.sh fails when a file under contract/ is
# missing from this list.
nobase_dist_pkgdata_DATA = \
	contract/README.md \
	contract/agent-api.openapi.yaml \
	contract/discord-webhook/README.md \
	contract/discord-webhook/openapi.yaml \
	contract/discord-webhook/test-vectors/001-ping.json \
	contract/discord-webhook/test-vectors/002-ping-full.json \
	contract/discord-webhook/test-vectors/003-application-command.json \
	contract/discord-webhook/test-vectors/004-application-command-options.json \
	contract/discord-webhook/test-vectors/010-malformed-json.json \
	contract/discord-webhook/test-vectors/011-empty-object.json \
	contract/discord-webhook/test-vectors/012-unknown-type.json \
	contract/discord-webhook/test-vectors/013-type-zero.json \
	contract/discord-webhook/test-vectors/014-type-negative.json \
	contract/discord-webhook/test-vectors/015-type-string.json \
	contract/discord-webhook/test-vectors/016-missing-type.json \
	contract/discord-webhook/test-vectors/017-null-body.json \
	contract/discord-webhook/test-vectors/018-array-body.json \
	contract/discord-webhook/test-vectors/019-empty-body.json \
	contract/discord-webhook/test-vectors/020-signature-bit-flipped.json \
	contract/discord-webhook/test-vectors/021-signature-last-bit-flipped.json \
	contract/discord-webhook/test-vectors/022-body-extra-space.json \
	contract/discord-webhook/test-vectors/023-body-trailing-newline.json \
	contract/discord-webhook/test-vectors/024-body-other-interaction.json \
	contract/discord-webhook/test-vectors/025-other-key.json \
	contract/discord-webhook/test-vectors/026-signature-zero.json \
	contract/discord-webhook/test-vectors/030-missing-timestamp.json \
	contract/discord-webhook/test-vectors/031-missing-signature.json \
	contract/discord-webhook/test-vectors/032-missing-both.json \
	contract/discord-webhook/test-vectors/033-ping-after-missing-headers.json \
	contract/discord-webhook/test-vectors/040-signature-not-hex.json \
	contract/discord-webhook/test-vectors/041-signature-128-non-hex.json \
	contract/discord-webhook/test-vectors/042-signature-126-hex.json \
	contract/discord-webhook/test-vectors/043-signature-130-hex.json \
	contract/discord-webhook/test-vectors/044-signature-odd-length.json \
	contract/discord-webhook/test-vectors/045-signature-empty.json \
	contract/discord-webhook/test-vectors/046-ping-after-bad-signatures.json \
	contract/discord-webhook/test-vectors/050-timestamp-ten-minutes-old.json \
	contract/discord-webhook/test-vectors/051-timestamp-ten-minutes-ahead.json \
	contract/discord-webhook/test-vectors/052-timestamp-not-a-number.json \
	contract/discord-webhook/test-vectors/060-message-component.json \
	contract/discord-webhook/test-vectors/061-autocomplete.json

# Files used outside the build: the image, the Cloud Run configuration,
# the CI workflow, the systemd unit and the operator's guide.
EXTRA_DIST += container/Dockerfile .dockerignore \
	terraform/README.md terraform/versions.tf terraform/variables.tf \
	terraform/main.tf terraform/iam.tf terraform/outputs.tf \
	terraform/terraform.tfvars.example \
	.github/workflows/deploy-agent.yml \
	systemd/perf-agent.service docs/deploy.md
# ship_dockerfile.sh compares the image's build packages with this list.
EXTRA_DIST += scripts/install-deps.sh

TESTS += tests/integration/ship_dockerfile.sh \
	tests/integration/ship_register.sh \
	tests/integration/ship_notify.sh \
	tests/integration/ship_unit.sh \
	tests/integration/ship_terraform.sh \
	tests/integration/ship_workflow.sh
EXTRA_DIST += tests/integration/ship_dockerfile.sh \
	tests/integration/ship_dockerfile.py \
	tests/integration/ship_register.sh \
	tests/integration/ship_notify.sh \
	tests/integration/ship_notify.py \
	tests/integration/ship_unit.sh \
	tests/integration/ship_terraform.sh \
	tests/integration/ship_workflow.sh
