/* Operator table ops_reduce: see ops.h. */
#include "ops.h"

const mrt__op_def mrt__ops_reduce[] = {
	{NULL},
};
