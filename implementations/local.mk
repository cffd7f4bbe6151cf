# Reference implementations. Only the C one is compiled by the project build;
# the others run from their source folders (see implementations/README.md).
noinst_PROGRAMS += implementations/discord-webhook/c-libevent/server
implementations_discord_webhook_c_libevent_server_SOURCES = \
	implementations/discord-webhook/c-libevent/server.c
# A service under test, not part of the agent: built without the agent's
# sanitizer flags, because localcloud runs it under a memory limit that
# leaves no room for AddressSanitizer's shadow memory.
implementations_discord_webhook_c_libevent_server_CFLAGS = $(WARN_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS) $(SODIUM_CFLAGS)
implementations_discord_webhook_c_libevent_server_LDFLAGS =
implementations_discord_webhook_c_libevent_server_LDADD = \
	$(LIBEVENT_LIBS) $(JANSSON_LIBS) $(SODIUM_LIBS)

# Every source file of every implementation (node_modules excluded), for
# make dist; the run scripts keep their execute bit.
EXTRA_DIST += implementations/README.md \
	scripts/install-implementations.sh \
	implementations/discord-webhook/broken-accepts-any/Dockerfile \
	implementations/discord-webhook/broken-accepts-any/run \
	implementations/discord-webhook/broken-accepts-any/server.py \
	implementations/discord-webhook/c-libevent/Dockerfile \
	implementations/discord-webhook/c-libevent/run \
	implementations/discord-webhook/node-discord-interactions/.dockerignore \
	implementations/discord-webhook/node-discord-interactions/Dockerfile \
	implementations/discord-webhook/node-discord-interactions/package-lock.json \
	implementations/discord-webhook/node-discord-interactions/package.json \
	implementations/discord-webhook/node-discord-interactions/run \
	implementations/discord-webhook/node-discord-interactions/server.js \
	implementations/discord-webhook/node/Dockerfile \
	implementations/discord-webhook/node/run \
	implementations/discord-webhook/node/server.js \
	implementations/discord-webhook/python/Dockerfile \
	implementations/discord-webhook/python/run \
	implementations/discord-webhook/python/server.py
