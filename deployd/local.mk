pkglibexec_PROGRAMS += deployd/deployd
deployd_deployd_SOURCES = deployd/deployd.c
deployd_deployd_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
deployd_deployd_LDADD = $(COMMON_LIBS)
