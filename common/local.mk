noinst_LIBRARIES += common/libcommon.a
common_libcommon_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
common_libcommon_a_SOURCES = \
	common/log.c common/log.h
