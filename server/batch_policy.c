/* Batch sizing rules that depend on nothing but the requests' sizes, kept
 * apart from the batcher's loop and worker plumbing so they can be tested
 * alone (see srv.h). */
#include "config.h"

#include "srv.h"

int srv_batch_keep(srv_req *const *reqs, int n, int64_t multiple)
{
	int64_t instances = 0, excess;
	int keep = n;

	for (int i = 0; i < n; i++)
		instances += reqs[i]->in.batch;
	if (multiple <= 1 || instances <= multiple)
		return n;
	excess = instances % multiple;
	while (excess > 0 && keep > 1 && reqs[keep - 1]->in.batch <= excess)
		excess -= reqs[--keep]->in.batch;
	return excess == 0 ? keep : n;
}
