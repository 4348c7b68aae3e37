/* Operator table ops_nn: see ops.h. */
#include "ops.h"

const mrt__op_def mrt__ops_nn[] = {
	{NULL},
};
