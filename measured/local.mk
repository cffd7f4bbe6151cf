pkglibexec_PROGRAMS += measured/measured
measured_measured_SOURCES = measured/measured.c measured/measure.c \
	measured/measure.h measured/measure_int.h measured/sample.c \
	measured/results.c
measured_measured_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_measured_LDADD = measured/libcontract.a measured/libengine.a \
	$(COMMON_LIBS) $(HTTP_PARSER_LIBS)
check_PROGRAMS += tests/unit/test_results
TESTS += tests/unit/test_results
tests_unit_test_results_SOURCES = tests/unit/test_results.c \
	measured/measure.c measured/sample.c measured/results.c
tests_unit_test_results_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) \
	$(CMOCKA_CFLAGS)
tests_unit_test_results_LDADD = measured/libcontract.a measured/libengine.a \
	$(COMMON_LIBS) $(HTTP_PARSER_LIBS) $(CMOCKA_LIBS)
