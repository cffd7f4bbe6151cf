pkglibexec_PROGRAMS += deployd/deployd
deployd_deployd_SOURCES = deployd/deployd.c deployd/deployd.h \
	deployd/deploy.c deployd/trigger.c
deployd_deployd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/measured
deployd_deployd_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
deployd_deployd_LDADD = common/libgcp.a $(API_LIBS) measured/libcontract.a \
	$(COMMON_LIBS)
