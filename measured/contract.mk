# measured (contract): the service types, the test-vector loader and the
# contract runner, plus perf-agent-contract, which runs a vector folder
# against one service and prints the report.
noinst_LIBRARIES += measured/libcontract.a
measured_libcontract_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_libcontract_a_SOURCES = \
	measured/servicetype.c measured/servicetype.h \
	measured/discord.c measured/discord.h \
	measured/vectors.c measured/vectors.h \
	measured/contract.c measured/contract.h

noinst_PROGRAMS += measured/perf-agent-contract
measured_perf_agent_contract_SOURCES = measured/contract-run.c
measured_perf_agent_contract_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_perf_agent_contract_LDADD = measured/libcontract.a $(COMMON_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_discord tests/unit/test_vectors
TESTS += tests/unit/test_discord tests/unit/test_vectors
tests_unit_test_discord_SOURCES = tests/unit/test_discord.c
tests_unit_test_discord_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_discord_LDADD = measured/libcontract.a $(COMMON_LIBS) \
	$(CMOCKA_LIBS)
tests_unit_test_vectors_SOURCES = tests/unit/test_vectors.c
tests_unit_test_vectors_CPPFLAGS = $(AM_CPPFLAGS) \
	-DTOP_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_vectors_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_vectors_LDADD = measured/libcontract.a $(COMMON_LIBS) \
	$(CMOCKA_LIBS)
endif

TESTS += tests/integration/discord_vectors.sh
EXTRA_DIST += tests/integration/discord_vectors.sh

# Data files of the contracts, for make dist.
EXTRA_DIST += contract/README.md \
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
