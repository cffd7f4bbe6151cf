pkglibexec_PROGRAMS += stated/stated
stated_stated_SOURCES = stated/stated.c
stated_stated_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
stated_stated_LDADD = common/libgcp.a $(COMMON_LIBS)
