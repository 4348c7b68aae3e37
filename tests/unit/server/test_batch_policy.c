/* srv_batch_keep: which requests close a batch when it must hold a multiple
 * of batch_multiple instances. Hand cases, then random batches against an
 * independent rule: the kept requests are the longest prefix whose dropped
 * suffix sums exactly to the excess, else all of them. */
#include "srv.h"
#include "test.h"

#define MAXN 80

static int keep_of(const int64_t *sizes, int n, int64_t multiple)
{
	static srv_req reqs[MAXN];
	srv_req *ptrs[MAXN];
	for (int i = 0; i < n; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].in.batch = sizes[i];
		ptrs[i] = &reqs[i];
	}
	return srv_batch_keep(ptrs, n, multiple);
}

static void test_hand(void)
{
	int64_t ones[MAXN];
	for (int i = 0; i < MAXN; i++)
		ones[i] = 1;
	CHECK_EQ_INT(keep_of(ones, 17, 1), 17);  /* off */
	CHECK_EQ_INT(keep_of(ones, 10, 16), 10); /* below the multiple: as is */
	CHECK_EQ_INT(keep_of(ones, 16, 16), 16);
	CHECK_EQ_INT(keep_of(ones, 17, 16), 16);
	CHECK_EQ_INT(keep_of(ones, 40, 16), 32);
	CHECK_EQ_INT(keep_of(ones, 63, 16), 48);
	CHECK_EQ_INT(keep_of(ones, 64, 16), 64);
	CHECK_EQ_INT(keep_of(ones, 50, 8), 48);

	static const int64_t a[] = {4, 4, 4, 4, 3}; /* 19: the 3 waits */
	CHECK_EQ_INT(keep_of(a, 5, 16), 4);
	static const int64_t b[] = {8, 8, 2, 3}; /* 21: 2 + 3 wait */
	CHECK_EQ_INT(keep_of(b, 4, 16), 2);
	static const int64_t c[] = {10, 10}; /* 20: the excess 4 is inside a request */
	CHECK_EQ_INT(keep_of(c, 2, 16), 2);
	static const int64_t d[] = {1, 20}; /* 21: the newest is bigger than the excess */
	CHECK_EQ_INT(keep_of(d, 2, 16), 2);
	static const int64_t e[] = {20}; /* one request is never split or left */
	CHECK_EQ_INT(keep_of(e, 1, 16), 1);
	static const int64_t f[] = {3, 2, 16}; /* 21: 16 > 5, all stay */
	CHECK_EQ_INT(keep_of(f, 3, 16), 3);
	static const int64_t g[] = {16, 4, 3}; /* 23: 4 + 3 wait */
	CHECK_EQ_INT(keep_of(g, 3, 16), 1);
}

static void test_random(void)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	int trimmed = 0;
	for (int it = 0; it < 20000; it++) {
		int64_t sizes[MAXN], total = 0,
		                     multiple = 1 + (int64_t)(test_xorshift64(&rng) % 20);
		int n = 1 + (int)(test_xorshift64(&rng) % MAXN), want = n;
		for (int i = 0; i < n; i++) {
			sizes[i] = test_xorshift64(&rng) % 4
			               ? 1
			               : 1 + (int64_t)(test_xorshift64(&rng) % 9);
			total += sizes[i];
		}
		if (multiple > 1 && total > multiple && total % multiple) {
			int64_t suffix = 0;
			for (int j = n - 1; j >= 1; j--) {
				suffix += sizes[j];
				if (suffix == total % multiple) {
					want = j;
					break;
				}
			}
		}
		int got = keep_of(sizes, n, multiple);
		CHECK_EQ_INT(got, want);
		if (got != n) {
			int64_t kept = 0;
			for (int i = 0; i < got; i++)
				kept += sizes[i];
			CHECK(kept % multiple == 0 && kept >= multiple);
			trimmed++;
		}
	}
	CHECK(trimmed > 1000); /* the rule did act in many of the batches */
}

int main(void)
{
	test_hand();
	test_random();
	TEST_END();
}
