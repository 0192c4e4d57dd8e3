/*
 * flags.h - command-line flags the way upstream components take them:
 * "--name=value" or "--name value", booleans as "--name" or
 * "--name=false", durations in Go syntax ("50s", "1m30s").  The default of
 * each flag is whatever its variable holds before flags_parse().
 * "--help"/"-h" prints usage with every flag, its type, default and help.
 */
#ifndef KUBE_FLAGS_H
#define KUBE_FLAGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

enum flag_type {
  FLAG_STRING,   /* char **: points at argv or a static default; never freed */
  FLAG_INT,      /* int * */
  FLAG_INT64,    /* int64_t * */
  FLAG_BOOL,     /* bool * */
  FLAG_DURATION, /* int64_t *: milliseconds */
  FLAG_FLOAT,    /* double * */
  /* An upstream flag whose feature does not exist here yet: listed in
   * --help, refused when given ("--NAME is not supported yet: HELP").
   * ptr is unused; help says what to do instead. */
  FLAG_UNSUPPORTED,
};

struct flag {
  const char *name; /* without dashes: "bind-address" */
  enum flag_type type;
  void *ptr;
  const char *help;
};

/*
 * Parses argv against flags (terminated by {NULL}).  Returns 0 on success;
 * 1 if --help was given (usage printed to stdout; exit 0); -1 on error with
 * a message naming the flag in err, e.g.
 *   invalid argument "abc" for "--secure-port" flag: strconv.ParseInt: parsing "abc": invalid syntax
 *   unknown flag: --foo
 * Positional arguments are an error ("unexpected argument").
 */
int flags_parse(int argc, char **argv, const struct flag *flags, const char *usage, char *err, size_t errlen);
void flags_usage(FILE *out, const char *prog, const struct flag *flags, const char *usage);
/* True when argv sets --name (or -name), with or without "=value", before
 * any "--": for settings where a given flag wins over a config file. */
bool flags_given(int argc, char **argv, const char *name);

#endif
