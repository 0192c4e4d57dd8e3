/* xtables_lock.c - see kube/xtables_lock.h. */
#include "kube/xtables_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define XTABLES_LOCK_STEP_MS 20

int xtables_lock(int wait_ms)
{
  const char *path = getenv("XTABLES_LOCKFILE");
  if (!path || !*path) path = XTABLES_LOCK_DEFAULT_PATH;
  int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  for (int waited = 0;; waited += XTABLES_LOCK_STEP_MS) {
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    if (errno != EWOULDBLOCK || waited >= wait_ms) {
      int e = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
      close(fd);
      return e;
    }
    struct timespec ts = {0, XTABLES_LOCK_STEP_MS * 1000000L};
    nanosleep(&ts, NULL);
  }
}
