/*
 * log.c - klog-compatible logging.
 *
 * Every line carries the header upstream components print, so that log
 * tooling written for Kubernetes parses our output unchanged:
 *   Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg
 * The line is formatted into one buffer and written with a single write(2)
 * so that lines from concurrent processes (or the odd helper thread) do not
 * interleave.  Fatal messages exit with status 255 as klog.Fatal does.
 */
#define _GNU_SOURCE
#include "kube/log.h"
#include "kube/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int klog_v_level = 0;

void klog_set_verbosity(int v) { klog_v_level = v; }

static const char *klog_basename(const char *file)
{
  const char *slash = strrchr(file, '/');
  return slash ? slash + 1 : file;
}

void klog_msg(char severity, const char *file, int line, const char *fmt, ...)
{
  char stackbuf[2048];
  char *buf = stackbuf;
  struct timeval tv;
  struct tm tm;
  int hdr, body;
  va_list ap;

  gettimeofday(&tv, NULL);
  localtime_r(&tv.tv_sec, &tm);
  hdr = snprintf(stackbuf, sizeof stackbuf, "%c%02d%02d %02d:%02d:%02d.%06ld %7ld %s:%d] ", severity, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec, (long)syscall(SYS_gettid),
                 klog_basename(file), line);
  if (hdr < 0 || (size_t)hdr >= sizeof stackbuf) hdr = (int)sizeof stackbuf - 1;

  va_start(ap, fmt);
  body = vsnprintf(stackbuf + hdr, sizeof stackbuf - (size_t)hdr, fmt, ap);
  va_end(ap);
  if (body < 0) body = 0;
  /* +2: room for a newline and the terminating NUL. */
  if ((size_t)hdr + (size_t)body + 2 > sizeof stackbuf) {
    char *big = xmalloc((size_t)hdr + (size_t)body + 2);
    if (big) {
      memcpy(big, stackbuf, (size_t)hdr);
      va_start(ap, fmt);
      vsnprintf(big + hdr, (size_t)body + 1, fmt, ap);
      va_end(ap);
      buf = big;
    } else {
      body = (int)(sizeof stackbuf - (size_t)hdr - 2);
    }
  }
  size_t n = (size_t)hdr + (size_t)body;
  if (n == 0 || buf[n - 1] != '\n') buf[n++] = '\n';
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w <= 0) break;
    p += w;
    n -= (size_t)w;
  }
  if (buf != stackbuf) free(buf);
  if (severity == 'F') exit(255);
}
