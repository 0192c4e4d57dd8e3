/*
 * flags.c - command-line parsing with the behaviour of Go's pflag, which
 * every upstream component uses.
 *
 * Flags are a static table pointing at the variables they set, so the
 * default of a flag is simply the variable's initial value (printed in the
 * usage text).  "--name=value", "--name value" and the single-dash form
 * "-name" (kubectl-style "-v=4") are accepted; booleans take no separate
 * argument, only "--name" or "--name=value" with Go's ParseBool.  Error
 * texts are pflag's, naming the flag and quoting the Go parser's message.
 */
#define _GNU_SOURCE
#include "kube/flags.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kube/strconv.h"
#include "kube/timeutil.h"
#include "kube/xalloc.h"

static const struct flag *flag_find(const struct flag *flags, const char *name, size_t len)
{
  for (const struct flag *f = flags; f && f->name; f++)
    if (strlen(f->name) == len && strncmp(f->name, name, len) == 0) return f;
  return NULL;
}

/* Sets the flag from text; on error writes the Go parser's message. */
static int flag_set(const struct flag *f, char *val, char *why, size_t whylen)
{
  int rc;
  switch (f->type) {
  case FLAG_STRING: *(char **)f->ptr = val; return 0;
  case FLAG_BOOL: {
    bool b;
    if (kstr_parse_bool(val, &b) < 0) {
      snprintf(why, whylen, "strconv.ParseBool: parsing \"%s\": invalid syntax", val);
      return -1;
    }
    *(bool *)f->ptr = b;
    return 0;
  }
  case FLAG_INT:
  case FLAG_INT64: {
    int64_t v;
    rc = kstr_parse_int64(val, &v);
    if (rc == 0 && f->type == FLAG_INT && (v < INT_MIN || v > INT_MAX)) rc = -ERANGE;
    if (rc < 0) {
      snprintf(why, whylen, "strconv.ParseInt: parsing \"%s\": %s", val,
               rc == -ERANGE ? "value out of range" : "invalid syntax");
      return -1;
    }
    if (f->type == FLAG_INT) *(int *)f->ptr = (int)v;
    else *(int64_t *)f->ptr = v;
    return 0;
  }
  case FLAG_DURATION: {
    int64_t ms;
    if (ktime_parse_duration_ms_err(val, &ms, why, whylen) < 0) return -1;
    *(int64_t *)f->ptr = ms;
    return 0;
  }
  case FLAG_UNSUPPORTED: return -1;
  case FLAG_FLOAT: {
    char *end;
    errno = 0;
    double d = strtod(val, &end);
    if (!*val || *end || isspace((unsigned char)*val)) {
      snprintf(why, whylen, "strconv.ParseFloat: parsing \"%s\": invalid syntax", val);
      return -1;
    }
    if (errno == ERANGE && isinf(d)) {
      snprintf(why, whylen, "strconv.ParseFloat: parsing \"%s\": value out of range", val);
      return -1;
    }
    *(double *)f->ptr = d;
    return 0;
  }
  }
  return -1;
}

int flags_parse(int argc, char **argv, const struct flag *flags, const char *usage, char *err, size_t errlen)
{
  bool only_positional = false;
  if (err && errlen) err[0] = '\0';
  for (int i = 1; i < argc; i++) {
    char *arg = argv[i];
    if (only_positional || arg[0] != '-' || arg[1] == '\0') {
      snprintf(err, errlen, "unexpected argument \"%s\"", arg);
      return -1;
    }
    if (strcmp(arg, "--") == 0) {
      only_positional = true;
      continue;
    }
    bool dbl = arg[1] == '-';
    char *name = arg + (dbl ? 2 : 1);
    char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const struct flag *f = flag_find(flags, name, nlen);
    if (!f) {
      if ((nlen == 4 && strncmp(name, "help", 4) == 0) || (!dbl && nlen == 1 && name[0] == 'h')) {
        flags_usage(stdout, argv[0], flags, usage);
        return 1;
      }
      if (dbl) snprintf(err, errlen, "unknown flag: --%.*s", (int)nlen, name);
      else snprintf(err, errlen, "unknown shorthand flag: '%c' in -%s", name[0], name);
      return -1;
    }
    if (f->type == FLAG_UNSUPPORTED) {
      snprintf(err, errlen, "--%s is not supported yet: %s", f->name, f->help ? f->help : "");
      return -1;
    }
    char *val;
    if (eq) {
      val = eq + 1;
    } else if (f->type == FLAG_BOOL) {
      val = "true";
    } else if (i + 1 < argc) {
      val = argv[++i];
    } else {
      snprintf(err, errlen, "flag needs an argument: %s%s", dbl ? "--" : "-", f->name);
      return -1;
    }
    char why[256];
    if (flag_set(f, val, why, sizeof why) < 0) {
      snprintf(err, errlen, "invalid argument \"%s\" for \"--%s\" flag: %s", val, f->name, why);
      return -1;
    }
  }
  return 0;
}

static int flag_cmp(const void *a, const void *b)
{
  const struct flag *const *fa = a, *const *fb = b;
  return strcmp((*fa)->name, (*fb)->name);
}

static const char *flag_type_name(enum flag_type t)
{
  switch (t) {
  case FLAG_STRING: return "string";
  case FLAG_INT: return "int";
  case FLAG_INT64: return "int64";
  case FLAG_BOOL: return "";
  case FLAG_DURATION: return "duration";
  case FLAG_FLOAT: return "float64";
  case FLAG_UNSUPPORTED: return "string";
  }
  return "";
}

/* pflag shows a default only when it differs from the type's zero value. */
static void flag_default(const struct flag *f, char *out, size_t len)
{
  out[0] = '\0';
  switch (f->type) {
  case FLAG_STRING: {
    const char *s = *(char **)f->ptr;
    if (s && *s) snprintf(out, len, " (default \"%s\")", s);
    break;
  }
  case FLAG_INT:
    if (*(int *)f->ptr) snprintf(out, len, " (default %d)", *(int *)f->ptr);
    break;
  case FLAG_INT64:
    if (*(int64_t *)f->ptr) snprintf(out, len, " (default %lld)", (long long)*(int64_t *)f->ptr);
    break;
  case FLAG_BOOL:
    if (*(bool *)f->ptr) snprintf(out, len, " (default true)");
    break;
  case FLAG_DURATION:
    if (*(int64_t *)f->ptr) {
      char d[48];
      snprintf(out, len, " (default %s)", ktime_format_duration_ms(*(int64_t *)f->ptr, d, sizeof d));
    }
    break;
  case FLAG_FLOAT:
    if (*(double *)f->ptr != 0) snprintf(out, len, " (default %g)", *(double *)f->ptr);
    break;
  case FLAG_UNSUPPORTED: snprintf(out, len, " (not supported yet)"); break;
  }
}

void flags_usage(FILE *out, const char *prog, const struct flag *flags, const char *usage)
{
  size_t n = 0, width = 0;
  for (const struct flag *f = flags; f && f->name; f++) n++;
  const struct flag **sorted = xcalloc(n ? n : 1, sizeof *sorted);
  if (!sorted) return;
  for (size_t i = 0; i < n; i++) {
    sorted[i] = &flags[i];
    size_t w = strlen(flags[i].name) + strlen(flag_type_name(flags[i].type)) + 1;
    if (w > width) width = w;
  }
  qsort(sorted, n, sizeof *sorted, flag_cmp);
  if (usage && *usage) fprintf(out, "%s\n\n", usage);
  fprintf(out, "Usage:\n  %s [flags]\n\nFlags:\n", prog ? prog : "");
  for (size_t i = 0; i < n; i++) {
    const struct flag *f = sorted[i];
    char left[256], def[128];
    snprintf(left, sizeof left, "%s %s", f->name, flag_type_name(f->type));
    flag_default(f, def, sizeof def);
    fprintf(out, "      --%-*s   %s%s\n", (int)width, left, f->help ? f->help : "", def);
  }
  fprintf(out, "  -h, --%-*s   help for %s\n", (int)width, "help", prog ? prog : "this command");
  free(sorted);
}

bool flags_given(int argc, char **argv, const char *name)
{
  size_t n = strlen(name);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) break;
    if (a[0] != '-') continue;
    a += a[1] == '-' ? 2 : 1;
    if (!strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=')) return true;
  }
  return false;
}
