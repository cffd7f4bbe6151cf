noinst_LIBRARIES += common/libcommon.a
common_libcommon_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
common_libcommon_a_SOURCES = \
	common/log.c common/log.h \
	common/proto.c common/proto.h \
	common/jsonpack.c common/jsonpack.h \
	common/frame.c common/frame.h \
	common/ipc.c common/ipc.h \
	common/settings.c common/settings.h \
	common/worker.c common/worker.h \
	common/peer.c common/peer.h \
	common/state.c common/state.h \
	common/timefmt.c common/timefmt.h \
	common/runkey.c common/runkey.h
