/*
 * fieldmanager_test_util.h - the fixture test_fieldmanager.c and
 * test_fieldmanager_status.c share: the built-in schema loaded once per
 * group, and J() for JSON written with single quotes.  Include after
 * cmocka.h, jansson.h and schema/schema.h.
 */
#ifndef FIELDMANAGER_TEST_UTIL_H
#define FIELDMANAGER_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct schema *builtin;

static int load_builtin(void **state)
{
  char err[256] = "";
  builtin = schema_load_builtin(err, sizeof err);
  if (!builtin) fprintf(stderr, "builtin schema: %s\n", err);
  return builtin ? 0 : -1;
}

static int free_builtin(void **state)
{
  schema_free(builtin);
  return 0;
}

/* JSON written with single quotes for readability. */
static json_t *J(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
  free(s);
  return v;
}

#endif
