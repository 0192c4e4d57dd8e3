/*
 * names.c - object names: generateName suffixes, UIDs and the validation
 * rules of k8s.io/apimachinery/pkg/util/validation.
 *
 * The checks are written as small character-class scanners equivalent to
 * upstream's regular expressions, and report upstream's message texts
 * (which quote those regular expressions), since users read them verbatim
 * in kubectl errors.  When upstream would report several problems, they
 * are joined with ", " in the order upstream produces them.
 */
#define _GNU_SOURCE
#include "kube/names.h"
#include "kube/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define NAMES_SUFFIX_LEN 5
#define NAMES_MAX_GENERATED_BASE 58 /* 63 minus the suffix */
#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253
#define DNS1035_LABEL_MAX 63
#define QUALIFIED_NAME_MAX 63
#define LABEL_VALUE_MAX 63

/* No vowels (no accidental words) and no confusable 0/1/3. */
static const char names_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

static const char DNS1123_LABEL_MSG[] =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
static const char DNS1123_SUBDOMAIN_MSG[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char DNS1035_LABEL_MSG[] =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
static const char QUALIFIED_NAME_MSG[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
static const char LABEL_VALUE_MSG[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

static void names_random(void *buf, size_t len)
{
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      /* Kernels without getrandom: fall back to the device. */
      int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        n = read(fd, p, len);
        close(fd);
      }
      if (n <= 0) abort();
    }
    p += n;
    len -= (size_t)n;
  }
}

char *names_generate(const char *prefix)
{
  size_t plen = prefix ? strlen(prefix) : 0;
  if (plen > NAMES_MAX_GENERATED_BASE) plen = NAMES_MAX_GENERATED_BASE;
  char *out = xmalloc(plen + NAMES_SUFFIX_LEN + 1);
  if (!out) return NULL;
  if (plen) memcpy(out, prefix, plen);
  unsigned char rnd[NAMES_SUFFIX_LEN];
  names_random(rnd, sizeof rnd);
  /* 27 letters: the small modulo bias is irrelevant for name suffixes. */
  for (int i = 0; i < NAMES_SUFFIX_LEN; i++)
    out[plen + (size_t)i] = names_alphabet[rnd[i] % (sizeof names_alphabet - 1)];
  out[plen + NAMES_SUFFIX_LEN] = '\0';
  return out;
}

void names_uuid(char out[37])
{
  unsigned char b[16];
  names_random(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Collects messages, joined with ", ". */
struct errs {
  char *msg;
  size_t len;
  size_t used;
  int count;
};

static void errs_add(struct errs *e, const char *prefix, const char *text)
{
  if (e->msg && e->len) {
    int n = snprintf(e->msg + e->used, e->len - e->used, "%s%s%s", e->count ? ", " : "", prefix ? prefix : "", text);
    if (n > 0) e->used += (size_t)n < e->len - e->used ? (size_t)n : e->len - e->used - 1;
  }
  e->count++;
}

static void errs_init(struct errs *e, char *msg, size_t len)
{
  e->msg = msg;
  e->len = len;
  e->used = 0;
  e->count = 0;
  if (msg && len) msg[0] = '\0';
}

static bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n). */
static bool match_label(const char *s, size_t n)
{
  if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1])) return false;
  for (size_t i = 1; i + 1 < n; i++)
    if (!lower_alnum(s[i]) && s[i] != '-') return false;
  return true;
}

static bool match_subdomain(const char *s)
{
  const char *p = s;
  for (;;) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (!match_label(p, n)) return false;
    if (!dot) return true;
    p = dot + 1;
  }
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static bool match_qualified(const char *s, size_t n)
{
  if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return false;
  for (size_t i = 1; i + 1 < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return false;
  return true;
}

static void max_len(struct errs *e, const char *prefix, size_t max)
{
  char buf[64];
  snprintf(buf, sizeof buf, "must be no more than %zu characters", max);
  errs_add(e, prefix, buf);
}

bool names_is_dns1123_label(const char *s, char *msg, size_t len)
{
  struct errs e;
  errs_init(&e, msg, len);
  size_t n = strlen(s);
  if (n > DNS1123_LABEL_MAX) max_len(&e, NULL, DNS1123_LABEL_MAX);
  if (!match_label(s, n)) errs_add(&e, NULL, match_subdomain(s) ? "must not contain dots" : DNS1123_LABEL_MSG);
  return e.count == 0;
}

bool names_is_dns1123_subdomain(const char *s, char *msg, size_t len)
{
  struct errs e;
  errs_init(&e, msg, len);
  if (strlen(s) > DNS1123_SUBDOMAIN_MAX) max_len(&e, NULL, DNS1123_SUBDOMAIN_MAX);
  if (!match_subdomain(s)) errs_add(&e, NULL, DNS1123_SUBDOMAIN_MSG);
  return e.count == 0;
}

bool names_is_dns1035_label(const char *s, char *msg, size_t len)
{
  struct errs e;
  errs_init(&e, msg, len);
  size_t n = strlen(s);
  if (n > DNS1035_LABEL_MAX) max_len(&e, NULL, DNS1035_LABEL_MAX);
  if (!match_label(s, n) || !(s[0] >= 'a' && s[0] <= 'z')) errs_add(&e, NULL, DNS1035_LABEL_MSG);
  return e.count == 0;
}

bool names_is_qualified_name(const char *s, char *msg, size_t len)
{
  struct errs e;
  errs_init(&e, msg, len);
  const char *slash = strchr(s, '/');
  const char *name = s;
  if (slash && strchr(slash + 1, '/')) {
    char buf[640];
    snprintf(buf, sizeof buf,
             "a qualified name %s with an optional DNS subdomain prefix and '/' (e.g. "
             "'example.com/MyName')",
             QUALIFIED_NAME_MSG);
    errs_add(&e, NULL, buf);
    return false;
  }
  if (slash) {
    size_t plen = (size_t)(slash - s);
    name = slash + 1;
    if (plen == 0) {
      errs_add(&e, "prefix part ", "must be non-empty");
    } else {
      char *prefix = xstrndup(s, plen);
      if (prefix) {
        if (plen > DNS1123_SUBDOMAIN_MAX) max_len(&e, "prefix part ", DNS1123_SUBDOMAIN_MAX);
        if (!match_subdomain(prefix)) errs_add(&e, "prefix part ", DNS1123_SUBDOMAIN_MSG);
        free(prefix);
      }
    }
  }
  size_t n = strlen(name);
  if (n == 0) errs_add(&e, "name part ", "must be non-empty");
  else if (n > QUALIFIED_NAME_MAX) max_len(&e, "name part ", QUALIFIED_NAME_MAX);
  if (!match_qualified(name, n)) errs_add(&e, "name part ", QUALIFIED_NAME_MSG);
  return e.count == 0;
}

bool names_is_label_value(const char *s, char *msg, size_t len)
{
  struct errs e;
  errs_init(&e, msg, len);
  size_t n = strlen(s);
  if (n > LABEL_VALUE_MAX) max_len(&e, NULL, LABEL_VALUE_MAX);
  if (n > 0 && !match_qualified(s, n)) errs_add(&e, NULL, LABEL_VALUE_MSG);
  return e.count == 0;
}

bool names_is_path_segment(const char *s, char *msg, size_t len)
{
  struct errs e;
  errs_init(&e, msg, len);
  if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "may not be '%s'", s);
    errs_add(&e, NULL, buf);
    return false;
  }
  if (strchr(s, '/')) errs_add(&e, NULL, "may not contain '/'");
  if (strchr(s, '%')) errs_add(&e, NULL, "may not contain '%'");
  return e.count == 0;
}
