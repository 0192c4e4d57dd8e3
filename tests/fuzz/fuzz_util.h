/*
 * fuzz_util.h - small helpers shared by the libFuzzer targets: turning the
 * fuzzer's bytes into NUL-terminated strings and splitting one input into
 * several fields.  Each helper returns memory the caller frees.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of data[0..size) (embedded NULs end the string
 * early, as they would for any C caller). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
  char *s = malloc(size + 1);
  if (!s) abort();
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

/* Splits at the first `sep`: *first gets the bytes before it (new string),
 * *rest and *rest_len point into data after it (or at the end when absent). */
static inline char *fuzz_split(const uint8_t *data, size_t size, uint8_t sep, const uint8_t **rest, size_t *rest_len)
{
  const uint8_t *p = size ? memchr(data, sep, size) : NULL;
  size_t n = p ? (size_t)(p - data) : size;
  *rest = p ? p + 1 : data + size;
  *rest_len = p ? size - n - 1 : 0;
  return fuzz_strndup(data, n);
}

#define FUZZ_CHECK(cond, ...)                                                                                          \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      fprintf(stderr, "check failed: %s: ", #cond);                                                                    \
      fprintf(stderr, __VA_ARGS__);                                                                                    \
      fputc('\n', stderr);                                                                                             \
      abort();                                                                                                         \
    }                                                                                                                  \
  } while (0)

#endif
