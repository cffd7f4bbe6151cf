# localcloud: the Google API emulator for local runs.
pkglibexec_PROGRAMS += localcloud/localcloud
localcloud_localcloud_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
localcloud_localcloud_SOURCES = \
	localcloud/localcloud.h \
	localcloud/main.c \
	localcloud/api.c
localcloud_localcloud_LDADD = common/libauth.a $(COMMON_LIBS)

# Storage, Scheduler, Tasks, the metadata server and the signing key.
localcloud_localcloud_SOURCES += \
	localcloud/durable.c localcloud/durable.h \
	localcloud/tokens.c localcloud/tokens.h \
	localcloud/metadata.c
