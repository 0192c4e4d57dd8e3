/*
 * log.h - klog-style logging:
 *   I1124 04:11:00.123456   12345 file.c:123] message
 * Severity letter I/W/E/F, then month-day, time with microseconds, thread
 * id, source location.  Verbose messages print when --v >= level.
 * The verbosity is process-wide, as klog's is.
 */
#ifndef KUBE_LOG_H
#define KUBE_LOG_H

extern int klog_v_level;

void klog_set_verbosity(int v);
void klog_msg(char severity, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define KLOG_I(...) klog_msg('I', __FILE__, __LINE__, __VA_ARGS__)
#define KLOG_W(...) klog_msg('W', __FILE__, __LINE__, __VA_ARGS__)
#define KLOG_E(...) klog_msg('E', __FILE__, __LINE__, __VA_ARGS__)
/* Fatal: logs and exits with status 255, as klog.Fatal does. */
#define KLOG_F(...) klog_msg('F', __FILE__, __LINE__, __VA_ARGS__)
#define KLOG_V(level, ...)                                                                                             \
  do {                                                                                                                 \
    if (klog_v_level >= (level)) klog_msg('I', __FILE__, __LINE__, __VA_ARGS__);                                       \
  } while (0)

#endif
