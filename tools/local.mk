bin_PROGRAMS += tools/perf-agent-ipc
tools_perf_agent_ipc_SOURCES = tools/ipc.c
tools_perf_agent_ipc_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
tools_perf_agent_ipc_LDADD = $(COMMON_LIBS)
