# common (auth): RS256 JSON Web Tokens, shared by localcloud (which signs
# OIDC ID tokens) and frontd (which verifies them).
noinst_LIBRARIES += common/libauth.a
common_libauth_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
common_libauth_a_SOURCES = common/jwt.c common/jwt.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_jwt
TESTS += tests/unit/test_jwt
tests_unit_test_jwt_SOURCES = tests/unit/test_jwt.c
tests_unit_test_jwt_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_jwt_LDADD = common/libauth.a $(COMMON_LIBS) $(CMOCKA_LIBS)
endif
