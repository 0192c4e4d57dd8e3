/* Tests for kube/names.h: generateName, UUIDs and upstream's validation
 * messages. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/names.h"

#define LABEL_MSG                                                                                                      \
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "                         \
  "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "                           \
  "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define SUBDOMAIN_MSG                                                                                                  \
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "                         \
  "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "                             \
  "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define DNS1035_MSG                                                                                                    \
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "                         \
  "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "                                 \
  "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define QNAME_MSG                                                                                                      \
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "                          \
  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "                               \
  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_MSG                                                                                                      \
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "                          \
  "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "                                   \
  "'my_value',  or '12345', regex used for validation is "                                                             \
  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static char *rep(char c, size_t n)
{
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

typedef bool (*validator)(const char *, char *, size_t);

struct vcase {
  validator fn;
  const char *in;
  const char *msg; /* NULL = valid */
};

static void run_cases(const struct vcase *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char msg[2048] = "junk";
    bool ok = cases[i].fn(cases[i].in, msg, sizeof msg);
    if (!cases[i].msg) {
      if (!ok) fail_msg("case %zu \"%s\": rejected: %s", i, cases[i].in, msg);
    } else {
      if (ok) fail_msg("case %zu \"%s\": accepted", i, cases[i].in);
      assert_string_equal(msg, cases[i].msg);
    }
  }
}

static void test_dns(void **state)
{
  (void)state;
  char *l63 = rep('a', 63), *l64 = rep('a', 64), *s254 = rep('a', 254);
  const struct vcase cases[] = {
      {names_is_dns1123_label, "my-name", NULL},
      {names_is_dns1123_label, "123-abc", NULL},
      {names_is_dns1123_label, "a", NULL},
      {names_is_dns1123_label, l63, NULL},
      {names_is_dns1123_label, l64, "must be no more than 63 characters"},
      {names_is_dns1123_label, "", LABEL_MSG},
      {names_is_dns1123_label, "-a", LABEL_MSG},
      {names_is_dns1123_label, "a-", LABEL_MSG},
      {names_is_dns1123_label, "My-Name", LABEL_MSG},
      {names_is_dns1123_label, "a_b", LABEL_MSG},
      {names_is_dns1123_label, "a.b", "must not contain dots"},
      {names_is_dns1123_subdomain, "example.com", NULL},
      {names_is_dns1123_subdomain, "my-app-7d9f8b6c5-x2x4z", NULL},
      {names_is_dns1123_subdomain, "a..b", SUBDOMAIN_MSG},
      {names_is_dns1123_subdomain, ".a", SUBDOMAIN_MSG},
      {names_is_dns1123_subdomain, "a.", SUBDOMAIN_MSG},
      {names_is_dns1123_subdomain, "A", SUBDOMAIN_MSG},
      {names_is_dns1123_subdomain, "", SUBDOMAIN_MSG},
      {names_is_dns1123_subdomain, "a.-b", SUBDOMAIN_MSG},
      {names_is_dns1123_subdomain, s254, "must be no more than 253 characters"},
      {names_is_dns1035_label, "my-svc", NULL},
      {names_is_dns1035_label, "1abc", DNS1035_MSG},
      {names_is_dns1035_label, "abc-", DNS1035_MSG},
      {names_is_dns1035_label, l64, "must be no more than 63 characters"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
  /* Several problems are all reported, in upstream's order. */
  char msg[2048];
  char *bad = rep('A', 64);
  assert_false(names_is_dns1123_label(bad, msg, sizeof msg));
  assert_string_equal(msg, "must be no more than 63 characters, " LABEL_MSG);
  /* A short buffer truncates rather than overflows. */
  char tiny[8];
  assert_false(names_is_dns1123_label("-", tiny, sizeof tiny));
  assert_string_equal(tiny, "a lower");
  assert_false(names_is_dns1123_label("-", NULL, 0));
  free(bad);
  free(l63);
  free(l64);
  free(s254);
}

static void test_qualified_and_values(void **state)
{
  (void)state;
  char *n64 = rep('a', 64), *v63 = rep('b', 63), *v64 = rep('b', 64);
  const struct vcase cases[] = {
      {names_is_qualified_name, "app", NULL},
      {names_is_qualified_name, "MyName", NULL},
      {names_is_qualified_name, "my.name_x-1", NULL},
      {names_is_qualified_name, "app.kubernetes.io/name", NULL},
      {names_is_qualified_name, "example.com/MyName", NULL},
      {names_is_qualified_name, "", "name part must be non-empty, name part " QNAME_MSG},
      {names_is_qualified_name, "-app", "name part " QNAME_MSG},
      {names_is_qualified_name, "app_", "name part " QNAME_MSG},
      {names_is_qualified_name, "a b", "name part " QNAME_MSG},
      {names_is_qualified_name, "/name", "prefix part must be non-empty"},
      {names_is_qualified_name, "Example.com/name", "prefix part " SUBDOMAIN_MSG},
      {names_is_qualified_name, "example.com/", "name part must be non-empty, name part " QNAME_MSG},
      {names_is_qualified_name, "a/b/c",
       "a qualified name " QNAME_MSG " with an optional DNS subdomain prefix and '/' (e.g. "
       "'example.com/MyName')"},
      {names_is_qualified_name, n64, "name part must be no more than 63 characters"},
      {names_is_label_value, "", NULL},
      {names_is_label_value, "v1.2_x-y", NULL},
      {names_is_label_value, v63, NULL},
      {names_is_label_value, v64, "must be no more than 63 characters"},
      {names_is_label_value, "-x", VALUE_MSG},
      {names_is_label_value, "a/b", VALUE_MSG},
      {names_is_path_segment, "pod-1", NULL},
      {names_is_path_segment, ".", "may not be '.'"},
      {names_is_path_segment, "..", "may not be '..'"},
      {names_is_path_segment, "a/b", "may not contain '/'"},
      {names_is_path_segment, "a%b/", "may not contain '/', may not contain '%'"},
  };
  run_cases(cases, sizeof cases / sizeof cases[0]);
  free(n64);
  free(v63);
  free(v64);
}

static void test_generate(void **state)
{
  (void)state;
  const char *alphabet = "bcdfghjklmnpqrstvwxz2456789";
  char *a = names_generate("web-"), *b = names_generate("web-");
  assert_int_equal(strlen(a), 9);
  assert_memory_equal(a, "web-", 4);
  for (int i = 4; i < 9; i++) assert_non_null(strchr(alphabet, a[i]));
  assert_string_not_equal(a, b); /* 27^5 possibilities: a clash is a bug */
  free(a);
  free(b);
  char *longp = rep('x', 70);
  char *g = names_generate(longp);
  assert_int_equal(strlen(g), 63);
  assert_memory_equal(g, longp, 58);
  free(g);
  free(longp);
  g = names_generate("");
  assert_int_equal(strlen(g), 5);
  free(g);

  char u1[37], u2[37];
  names_uuid(u1);
  names_uuid(u2);
  assert_int_equal(strlen(u1), 36);
  assert_string_not_equal(u1, u2);
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) assert_int_equal(u1[i], '-');
    else assert_true(isxdigit((unsigned char)u1[i]) && !isupper((unsigned char)u1[i]));
  }
  assert_int_equal(u1[14], '4');
  assert_non_null(strchr("89ab", u1[19]));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dns),
      cmocka_unit_test(test_qualified_and_values),
      cmocka_unit_test(test_generate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
