/* The register command of perf-agent-ctl (tools/register.c). */
#ifndef REGISTER_H
#define REGISTER_H

#include <getopt.h>

/*
 * Runs "perf-agent-ctl register"; argv[0] is the command name. Returns the
 * exit status: 0 uploaded, 1 when stated replied with an error, 2 on a
 * usage, manifest or connection error.
 */
int	register_main(int argc, char **argv);
/*
 * Prints on one line the option error that getopt_long() returned as ch
 * (':' for a missing value), for the option just read from argv with the
 * long options opts. Then prints the usage hint. Set opterr to 0 before
 * the getopt_long() calls. Defined in tools/ctl.c.
 */
void	ctl_option_error(int ch, char **argv, const struct option *opts);

#endif
