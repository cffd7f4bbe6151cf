# Agent API core: the manifest loader and the deployment plan (libapi), and
# the request validator of frontd (libvalidate, which uses libapi). Programs
# link frontd/libvalidate.a before common/libapi.a, then $(YAML_LIBS) and
# $(COMMON_LIBS).
noinst_LIBRARIES += common/libapi.a frontd/libvalidate.a
common_libapi_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(YAML_CFLAGS)
common_libapi_a_SOURCES = \
	common/manifest.c common/manifest.h \
	common/runplan.c common/runplan.h
frontd_libvalidate_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
frontd_libvalidate_a_SOURCES = frontd/validate.c frontd/validate.h

API_LIBS = frontd/libvalidate.a common/libapi.a $(YAML_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_validate tests/unit/test_runplan \
	tests/unit/test_manifest
TESTS += tests/unit/test_validate tests/unit/test_runplan \
	tests/unit/test_manifest
tests_unit_test_validate_SOURCES = tests/unit/test_validate.c
tests_unit_test_validate_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_validate_LDADD = $(API_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)
tests_unit_test_runplan_SOURCES = tests/unit/test_runplan.c
tests_unit_test_runplan_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_runplan_LDADD = $(API_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)
tests_unit_test_manifest_SOURCES = tests/unit/test_manifest.c
tests_unit_test_manifest_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_manifest_LDADD = $(API_LIBS) $(COMMON_LIBS) $(CMOCKA_LIBS)
endif

# The registration manifest, its schema and the Agent API description are
# checked with ajv (installed by npm ci in tools/schema).
TESTS += tests/integration/manifest_schema.sh
# Installed for frontd, which serves GET /implementations from it.
apimanifestdir = $(pkgdatadir)
dist_apimanifest_DATA = manifest.yaml
EXTRA_DIST += tests/integration/manifest_schema.sh \
	schemas/agent-manifest.schema.json schemas/results.schema.json \
	contract/agent-api.openapi.yaml \
	tools/schema/package.json tools/schema/package-lock.json \
	tools/schema/validate.sh tools/schema/validate.mjs
