/* Shared by the kube-proxy unit tests: objects from JSON text, and a
 * line-by-line comparison of golden text that names the first
 * difference. */
#ifndef KP_TEST_UTIL_H
#define KP_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "model.h"

static inline json_t *kpt_json(const char *text)
{
  json_error_t e;
  json_t *v = json_loads(text, 0, &e);
  if (!v) fail_msg("bad test JSON at line %d: %s\n%s", e.line, e.text, text);
  return v;
}

static inline void kpt_add_service(struct kp_model *m, const char *text)
{
  json_t *v = kpt_json(text);
  assert_true(kp_model_set_service(m, v));
  json_decref(v);
}

static inline void kpt_add_slice(struct kp_model *m, const char *text)
{
  json_t *v = kpt_json(text);
  assert_true(kp_model_set_slice(m, v));
  json_decref(v);
}

/* Fails with the first differing line of want and got. */
static inline void kpt_assert_text(const char *want, const char *got)
{
  if (!strcmp(want, got)) return;
  const char *w = want, *g = got;
  int line = 1;
  while (*w && *g) {
    const char *we = strchr(w, '\n'), *ge = strchr(g, '\n');
    size_t wl = we ? (size_t)(we - w) : strlen(w), gl = ge ? (size_t)(ge - g) : strlen(g);
    if (wl != gl || memcmp(w, g, wl)) {
      print_error("line %d differs:\n want: %.*s\n  got: %.*s\n", line, (int)wl, w, (int)gl, g);
      break;
    }
    w += wl + (we ? 1 : 0);
    g += gl + (ge ? 1 : 0);
    line++;
  }
  print_error("--- want:\n%s--- got:\n%s", want, got);
  fail();
}

#endif
