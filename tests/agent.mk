# Agent API tests beyond the main flow: malformed requests, worker kills
# and SIGTERM with a restart, and load on the API during a measure.
# agent_load.sh reads LOAD_SECONDS (default 10); LOAD_SECONDS=60 is the run
# recorded in docs/BENCHMARKS.md.
TESTS += tests/integration/agent_malformed.sh
EXTRA_DIST += tests/integration/agent_malformed.sh
TESTS += tests/integration/agent_chaos.sh
EXTRA_DIST += tests/integration/agent_chaos.sh
TESTS += tests/integration/agent_load.sh
EXTRA_DIST += tests/integration/agent_load.sh
EXTRA_DIST += docs/SECURITY.md
TESTS += tests/integration/agent_invoker.sh
EXTRA_DIST += tests/integration/agent_invoker.sh
TESTS += tests/integration/agent_term_warm.sh
EXTRA_DIST += tests/integration/agent_term_warm.sh
TESTS += tests/integration/agent_deploy_stop.sh
EXTRA_DIST += tests/integration/agent_deploy_stop.sh
TESTS += tests/integration/agent_warm_refresh.sh
EXTRA_DIST += tests/integration/agent_warm_refresh.sh
TESTS += tests/integration/agent_lost_trigger.sh
EXTRA_DIST += tests/integration/agent_lost_trigger.sh
