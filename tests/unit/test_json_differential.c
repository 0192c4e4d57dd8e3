/*
 * Randomized differential test of the fast JSON path (json.c) against
 * jansson, the reference it must agree with byte for byte:
 *   - parsing: kj_loadb (fast path, falling back to jansson) and jansson's
 *     json_loadb accept exactly the same documents and build equal trees,
 *     with and without duplicate-key rejection; kj_loadb_without_managed_fields
 *     equals jansson's tree with every metadata.managedFields removed;
 *   - serializing: kj_dumps writes exactly what json_dumps(JSON_COMPACT |
 *     JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) writes.
 * Documents are generated with unicode (raw UTF-8 and \u escapes with
 * surrogate pairs), every escape, big and negative numbers (int64 limits,
 * past them, reals with exponents and overflow), deep nesting, duplicate
 * keys, Kubernetes-shaped metadata with managedFields, and then broken by
 * random mutations (truncation, byte flips, inserted garbage).
 * The seed is printed; KJ_DIFF_SEED and KJ_DIFF_ROUNDS override it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "json_diff.h"

struct gen {
  char *buf;
  size_t len, cap;
  uint64_t rng;
};

static uint64_t rnd(struct gen *g)
{
  /* xorshift64* */
  g->rng ^= g->rng >> 12;
  g->rng ^= g->rng << 25;
  g->rng ^= g->rng >> 27;
  return g->rng * 2685821657736338717ULL;
}

static unsigned pick(struct gen *g, unsigned n) { return (unsigned)(rnd(g) % n); }

static void put(struct gen *g, const char *s, size_t n)
{
  if (g->len + n + 1 > g->cap) {
    g->cap = (g->len + n + 1) * 2;
    g->buf = realloc(g->buf, g->cap);
    assert_non_null(g->buf);
  }
  memcpy(g->buf + g->len, s, n);
  g->len += n;
  g->buf[g->len] = '\0';
}

static void puts_(struct gen *g, const char *s) { put(g, s, strlen(s)); }

static void putf(struct gen *g, const char *fmt, ...)
{
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  put(g, tmp, (size_t)n);
}

static void gen_string(struct gen *g)
{
  static const char *const pieces[] = {
      "a",
      "metadata",
      "managedFields",
      "k:{\\\"name\\\":\\\"c\\\"}",
      "\\n",
      "\\t",
      "\\\"",
      "\\\\",
      "\\/",
      "\\b",
      "\\f",
      "\\r",
      "\\u0041",
      "\\u00e9",
      "\\u20ac",
      "\\ud83d\\ude00",
      "\\u0000",
      "\\u001f",
      "é",
      "€",
      "😀",
      "日本",
      " ",
      "app.kubernetes.io/name",
      "x",
      "0",
      "\\u2028",
      "\x7f",
  };
  puts_(g, "\"");
  unsigned n = pick(g, 6);
  for (unsigned i = 0; i < n; i++) puts_(g, pieces[pick(g, sizeof pieces / sizeof pieces[0])]);
  puts_(g, "\"");
}

static void gen_number(struct gen *g)
{
  switch (pick(g, 12)) {
  case 0: putf(g, "%d", (int)pick(g, 1000)); break;
  case 1: putf(g, "-%d", (int)pick(g, 1000)); break;
  case 2: puts_(g, "9223372036854775807"); break;
  case 3: puts_(g, "-9223372036854775808"); break;
  case 4: puts_(g, "9223372036854775808"); break; /* past int64: jansson refuses */
  case 5: puts_(g, "123456789012345678"); break;  /* 18 digits */
  case 6: puts_(g, "1234567890123456789"); break; /* 19 digits */
  case 7: putf(g, "%u.%u", (unsigned)pick(g, 100), (unsigned)pick(g, 1000)); break;
  case 8: putf(g, "%ue%d", 1 + pick(g, 9), (int)pick(g, 40) - 20); break;
  case 9: puts_(g, pick(g, 2) ? "1e400" : "-1e-400"); break;
  case 10: puts_(g, pick(g, 2) ? "-0" : "0.0"); break;
  default: putf(g, "%u.5E+%u", (unsigned)pick(g, 10), (unsigned)pick(g, 3)); break;
  }
}

static void gen_value(struct gen *g, int depth);

static void gen_object(struct gen *g, int depth)
{
  puts_(g, "{");
  unsigned n = pick(g, 5);
  for (unsigned i = 0; i < n; i++) {
    if (i) puts_(g, pick(g, 8) ? "," : " , ");
    if (pick(g, 6) == 0) puts_(g, "\"metadata\"");
    else if (pick(g, 8) == 0) puts_(g, "\"managedFields\"");
    else if (pick(g, 10) == 0) puts_(g, "\"dup\""); /* duplicates across members */
    else gen_string(g);
    puts_(g, pick(g, 8) ? ":" : " : ");
    gen_value(g, depth + 1);
  }
  puts_(g, "}");
}

static void gen_array(struct gen *g, int depth)
{
  puts_(g, "[");
  unsigned n = pick(g, 5);
  for (unsigned i = 0; i < n; i++) {
    if (i) puts_(g, ",");
    gen_value(g, depth + 1);
  }
  puts_(g, "]");
}

static void gen_value(struct gen *g, int depth)
{
  unsigned k = depth > 6 ? 3 + pick(g, 4) : pick(g, 7);
  if (pick(g, 10) == 0) puts_(g, " \n\t");
  switch (k) {
  case 0:
  case 1: gen_object(g, depth); break;
  case 2: gen_array(g, depth); break;
  case 3: gen_string(g); break;
  case 4: gen_number(g); break;
  case 5: puts_(g, pick(g, 2) ? "true" : "false"); break;
  default: puts_(g, "null"); break;
  }
}

static void gen_deep(struct gen *g)
{
  unsigned depth = 900 + pick(g, 1300); /* around the fast path's and jansson's limits */
  char *closers = calloc(depth + 1, 1);
  assert_non_null(closers);
  for (unsigned i = 0; i < depth; i++) {
    bool arr = pick(g, 2);
    puts_(g, arr ? "[" : "{\"a\":");
    closers[depth - 1 - i] = arr ? ']' : '}';
  }
  puts_(g, "1");
  put(g, closers, depth);
  free(closers);
}

static void mutate(struct gen *g)
{
  if (!g->len) return;
  size_t at = pick(g, (unsigned)g->len);
  switch (pick(g, 6)) {
  case 0:
    g->len = at;
    g->buf[at] = '\0';
    break;                                                           /* truncate */
  case 1: g->buf[at] = (char)(pick(g, 256)); break;                  /* flip */
  case 2: g->buf[at] = "{}[]\",:0e-\\ \x01\xff"[pick(g, 15)]; break; /* structural */
  case 3: put(g, ",", 1); break;                                     /* trailing */
  case 4: put(g, " x", 2); break;                                    /* garbage after */
  default: g->buf[at] = '\0'; break;                                 /* embedded NUL */
  }
}

static void check_document(const char *buf, size_t len, unsigned long *accepted)
{
  bool ok;
  const char *why = json_diff_check(buf, len, &ok);
  if (why) fail_msg("%s for %.*s", why, (int)len, buf);
  if (ok) (*accepted)++;
}

static void test_differential(void **state)
{
  (void)state;
  const char *s = getenv("KJ_DIFF_SEED"), *r = getenv("KJ_DIFF_ROUNDS");
  uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
  unsigned long rounds = r ? strtoul(r, NULL, 10) : 20000;
  printf("seed %llu, %lu rounds (KJ_DIFF_SEED / KJ_DIFF_ROUNDS to repeat)\n", (unsigned long long)seed, rounds);
  struct gen g = {.rng = seed * 2 + 1};
  unsigned long accepted = 0;
  for (unsigned long i = 0; i < rounds; i++) {
    g.len = 0;
    if (i % 500 == 0) gen_deep(&g);
    else gen_value(&g, 0);
    size_t len = g.len;
    check_document(g.buf, len, &accepted);
    if (pick(&g, 2)) {
      mutate(&g);
      check_document(g.buf, g.len, &accepted);
    }
  }
  printf("%lu documents accepted by both\n", accepted);
  assert_true(accepted > rounds / 4); /* the generator must produce mostly valid JSON */
  free(g.buf);
}

/* Fixed cases that once mattered. */
static void test_known_cases(void **state)
{
  (void)state;
  static const char *const docs[] = {
      "{\"a\":1,\"a\":2}",
      "{\"metadata\":{\"managedFields\":[{\"f:spec\":{}}],\"name\":\"x\"},\"k:{\\\"name\\\":\\\"c\\\"}\":1}",
      "[9223372036854775807,-9223372036854775808]",
      "9223372036854775808",
      "[1e400]",
      "\"\\ud800\"",
      "\"\\u0000x\"",
      "{\"a\":[1,2,]}",
      "01",
      "-",
      "[\"\x01\"]",
      "\"\xc3\x28\"",
      "  {\"a\" : \"b\" }  ",
  };
  unsigned long accepted = 0;
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) check_document(docs[i], strlen(docs[i]), &accepted);
  assert_true(accepted >= 4);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_cases),
      cmocka_unit_test(test_differential),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
