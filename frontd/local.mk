pkglibexec_PROGRAMS += frontd/frontd
frontd_frontd_SOURCES = frontd/frontd.c frontd/frontd.h frontd/http.c \
	frontd/health.c frontd/api.c frontd/benchmark.c frontd/auth.c
frontd_frontd_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
frontd_frontd_LDADD = $(API_LIBS) common/libauth.a $(COMMON_LIBS)
