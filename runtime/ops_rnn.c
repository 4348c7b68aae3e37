/* Operator table ops_rnn: see ops.h. */
#include "ops.h"

const mrt__op_def mrt__ops_rnn[] = {
	{NULL},
};
