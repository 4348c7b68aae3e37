/* Minimal assertions for the unit tests: a failed check prints where and
 * what and is counted; TEST_END() exits 1 when any failed. Exit 77 = skipped. */
#ifndef MODELD_TEST_H
#define MODELD_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__failures;
static int test__checks;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		test__checks++;                                                            \
		if (!(cond)) {                                                             \
			test__failures++;                                                  \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
				#cond);                                                    \
		}                                                                          \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
	do {                                                                               \
		long long test__a = (long long)(a), test__b = (long long)(b);              \
		test__checks++;                                                            \
		if (test__a != test__b) {                                                  \
			test__failures++;                                                  \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",          \
				__FILE__, __LINE__, #a, #b, test__a, test__b);             \
		}                                                                          \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
	do {                                                                               \
		double test__a = (double)(a), test__b = (double)(b);                       \
		test__checks++;                                                            \
		if (!(fabs(test__a - test__b) <= (tol))) {                                 \
			test__failures++;                                                  \
			fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n",   \
				__FILE__, __LINE__, #a, #b, (double)(tol), test__a,        \
				test__b);                                                  \
		}                                                                          \
	} while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                    \
	do {                                                                               \
		const char *test__h = (hay);                                               \
		test__checks++;                                                            \
		if (!test__h || !strstr(test__h, (needle))) {                              \
			test__failures++;                                                  \
			fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",         \
				__FILE__, __LINE__, test__h ? test__h : "(null)", (needle)); \
		}                                                                          \
	} while (0)

/* Advances a xorshift64 state (must start non-zero) and returns it: the
 * tests' deterministic pseudo-random numbers, so a failing case repeats. */
static inline uint64_t test_xorshift64(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

#define TEST_END()                                                                         \
	do {                                                                               \
		fprintf(stderr, "%d checks, %d failed\n", test__checks, test__failures);   \
		return test__failures ? 1 : 0;                                             \
	} while (0)

#endif
