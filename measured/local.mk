pkglibexec_PROGRAMS += measured/measured
measured_measured_SOURCES = measured/measured.c measured/measure.c \
	measured/measure.h measured/measure_int.h measured/sample.c \
	measured/results.c
measured_measured_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_measured_LDADD = measured/libcontract.a measured/libengine.a \
	$(COMMON_LIBS) $(HTTP_PARSER_LIBS)
