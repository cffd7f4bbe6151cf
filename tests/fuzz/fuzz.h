/*
 * Shared declarations of the fuzzing harnesses. Each fuzz_*.c file defines
 * LLVMFuzzerTestOneInput; libFuzzer supplies main in a fuzzing build, and
 * driver.c supplies it in the regression tests of make check.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Aborts when an invariant of the code under test does not hold, so that
 * libFuzzer and the regression driver both record the input as a crash.
 */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

#endif
