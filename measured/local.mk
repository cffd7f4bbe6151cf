pkglibexec_PROGRAMS += measured/measured
measured_measured_SOURCES = measured/measured.c
measured_measured_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_measured_LDADD = $(COMMON_LIBS)
