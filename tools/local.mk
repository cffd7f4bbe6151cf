bin_PROGRAMS += tools/perf-agent-ipc
tools_perf_agent_ipc_SOURCES = tools/ipc.c
tools_perf_agent_ipc_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
tools_perf_agent_ipc_LDADD = $(COMMON_LIBS)

bin_PROGRAMS += tools/perf-agent-ctl
tools_perf_agent_ctl_SOURCES = tools/ctl.c
tools_perf_agent_ctl_CFLAGS = $(AM_CFLAGS) $(LIBCURL_CFLAGS) $(JANSSON_CFLAGS)
tools_perf_agent_ctl_LDADD = $(LIBCURL_LIBS) $(JANSSON_LIBS)

# perf-agent-ctl register: edits manifest.yaml with libyaml's marks and
# uploads it through stated over IPC.
tools_perf_agent_ctl_SOURCES += tools/register.c tools/register.h
tools_perf_agent_ctl_CFLAGS += $(COMMON_CFLAGS)
tools_perf_agent_ctl_LDADD += common/libapi.a $(COMMON_LIBS)
TESTS += tests/integration/ctl_args.sh
EXTRA_DIST += tests/integration/ctl_args.sh
