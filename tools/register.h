/* The register command of perf-agent-ctl (tools/register.c). */
#ifndef REGISTER_H
#define REGISTER_H

/*
 * Runs "perf-agent-ctl register"; argv[0] is the command name. Returns the
 * exit status: 0 uploaded, 1 when stated replied with an error, 2 on a
 * usage, manifest or connection error.
 */
int	register_main(int argc, char **argv);

#endif
