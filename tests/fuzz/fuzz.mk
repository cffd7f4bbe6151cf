# Fuzzing harnesses (tests/fuzz/fuzz_*.c). Each defines
# LLVMFuzzerTestOneInput. make check links each with tests/fuzz/driver.c
# and replays tests/fuzz/corpus/TARGET and tests/fuzz/regress/TARGET with
# any compiler. With --enable-fuzzing (CC=clang) the same harnesses are
# also linked with libFuzzer as tests/fuzz/fuzz_TARGET; scripts/fuzz.sh
# builds and runs them.

FUZZ_DRIVER_SOURCES = tests/fuzz/driver.c tests/fuzz/fuzz.h
FUZZ_HARNESS_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)

check_PROGRAMS += tests/fuzz/regress_validate tests/fuzz/regress_frame \
	tests/fuzz/regress_jwt tests/fuzz/regress_vectors \
	tests/fuzz/regress_manifest
TESTS += tests/fuzz/regress_validate tests/fuzz/regress_frame \
	tests/fuzz/regress_jwt tests/fuzz/regress_vectors \
	tests/fuzz/regress_manifest

tests_fuzz_regress_validate_SOURCES = $(FUZZ_DRIVER_SOURCES) \
	tests/fuzz/fuzz_validate.c
tests_fuzz_regress_validate_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"validate"'
tests_fuzz_regress_validate_CFLAGS = $(FUZZ_HARNESS_CFLAGS)
tests_fuzz_regress_validate_LDADD = $(API_LIBS) $(COMMON_LIBS)

tests_fuzz_regress_frame_SOURCES = $(FUZZ_DRIVER_SOURCES) \
	tests/fuzz/fuzz_frame.c
tests_fuzz_regress_frame_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"frame"'
tests_fuzz_regress_frame_CFLAGS = $(FUZZ_HARNESS_CFLAGS)
tests_fuzz_regress_frame_LDADD = $(COMMON_LIBS)

tests_fuzz_regress_jwt_SOURCES = $(FUZZ_DRIVER_SOURCES) \
	tests/fuzz/fuzz_jwt.c
tests_fuzz_regress_jwt_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"jwt"'
tests_fuzz_regress_jwt_CFLAGS = $(FUZZ_HARNESS_CFLAGS)
tests_fuzz_regress_jwt_LDADD = common/libauth.a $(COMMON_LIBS)

tests_fuzz_regress_vectors_SOURCES = $(FUZZ_DRIVER_SOURCES) \
	tests/fuzz/fuzz_vectors.c
tests_fuzz_regress_vectors_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"vectors"'
tests_fuzz_regress_vectors_CFLAGS = $(FUZZ_HARNESS_CFLAGS)
tests_fuzz_regress_vectors_LDADD = measured/libcontract.a $(COMMON_LIBS)

tests_fuzz_regress_manifest_SOURCES = $(FUZZ_DRIVER_SOURCES) \
	tests/fuzz/fuzz_manifest.c
tests_fuzz_regress_manifest_CPPFLAGS = $(AM_CPPFLAGS) -DFUZZ_TARGET='"manifest"'
tests_fuzz_regress_manifest_CFLAGS = $(FUZZ_HARNESS_CFLAGS)
tests_fuzz_regress_manifest_LDADD = $(API_LIBS) $(COMMON_LIBS)

if ENABLE_FUZZING
# libFuzzer supplies main. The libraries get coverage instrumentation only
# when CFLAGS carries -fsanitize=fuzzer-no-link, as scripts/fuzz.sh sets.
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined
noinst_PROGRAMS += tests/fuzz/fuzz_validate tests/fuzz/fuzz_frame \
	tests/fuzz/fuzz_jwt tests/fuzz/fuzz_vectors tests/fuzz/fuzz_manifest

tests_fuzz_fuzz_validate_SOURCES = tests/fuzz/fuzz_validate.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_validate_CFLAGS = $(FUZZ_HARNESS_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_validate_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_validate_LDADD = $(tests_fuzz_regress_validate_LDADD)

tests_fuzz_fuzz_frame_SOURCES = tests/fuzz/fuzz_frame.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_frame_CFLAGS = $(FUZZ_HARNESS_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_frame_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_frame_LDADD = $(tests_fuzz_regress_frame_LDADD)

tests_fuzz_fuzz_jwt_SOURCES = tests/fuzz/fuzz_jwt.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_jwt_CFLAGS = $(FUZZ_HARNESS_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_jwt_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_jwt_LDADD = $(tests_fuzz_regress_jwt_LDADD)

tests_fuzz_fuzz_vectors_SOURCES = tests/fuzz/fuzz_vectors.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_vectors_CFLAGS = $(FUZZ_HARNESS_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_vectors_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_vectors_LDADD = $(tests_fuzz_regress_vectors_LDADD)

tests_fuzz_fuzz_manifest_SOURCES = tests/fuzz/fuzz_manifest.c tests/fuzz/fuzz.h
tests_fuzz_fuzz_manifest_CFLAGS = $(FUZZ_HARNESS_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_manifest_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_manifest_LDADD = $(tests_fuzz_regress_manifest_LDADD)
endif

# Seed corpora, regression inputs and the script that runs the fuzzers.
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/regress scripts/fuzz.sh
