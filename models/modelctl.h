/* modelctl: what the subcommand files share (argument helpers, exit codes). */
#ifndef MODELCTL_H
#define MODELCTL_H

#include <stdio.h>

/* Exit codes of every subcommand. */
enum {
	MODELCTL_OK = 0,
	MODELCTL_FAIL = 1,  /* the work failed: bad file, refused request, I/O */
	MODELCTL_USAGE = 2, /* the command line is wrong */
};

/* A subcommand: argv[0] is its name. Returns one of the exit codes. */
typedef int (*modelctl_cmd_fn)(int argc, char **argv);

/* Print "modelctl: error: ..." to stderr. */
void modelctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "modelctl CMD: ..." and the one-line usage of cmd to stderr;
 * returns MODELCTL_USAGE. */
int modelctl_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Option scanning: when argv[*i] is "--name VALUE" or "--name=VALUE", set
 * *value (borrowed from argv) and advance *i past it; returns 1. Returns 0
 * when argv[*i] is another argument, -1 when the value is missing. */
int modelctl_opt(int argc, char **argv, int *i, const char *name, const char **value);
/* Parse a positive integer option value; -1 when it is not one. */
long modelctl_parse_count(const char *s, long max);
/* 1 when s is "-h" or "--help". */
int modelctl_is_help(const char *s);

int modelctl_inspect(int argc, char **argv);
int modelctl_predict(int argc, char **argv);
int modelctl_bench(int argc, char **argv);

#endif
