/*
 * main.c - kube-proxy entry point; the program is in app.c, the proxier
 * in proxier.c, the cluster DNS in dns*.c.
 *
 * Huge pages for the sync's memory: a sync of a large cluster has
 * libiptc allocate its copy of the table (hundreds of thousands of small
 * blocks) and then the table as one blob of 100 MiB or more, all touched
 * once and freed after the commit.  With 4 KiB pages those are tens of
 * thousands of page faults per sync, most of the sync's system time.
 * glibc backs its heaps and large blocks with transparent huge pages
 * (madvise) only when its glibc.malloc.hugetlb tunable is 1, and reads
 * tunables only at start, so main executes the program once more with
 * the tunable added when the kernel offers transparent huge pages
 * ("always" or "madvise").  Setting glibc.malloc.hugetlb in
 * GLIBC_TUNABLES oneself (0 turns this off) skips the re-execution, and
 * so does running under valgrind (whose tool would not follow it).
 *
 * One malloc arena: the sync worker thread would otherwise get an arena
 * of its own (64 MiB heaps grown piecemeal) next to the main one, both
 * holding memory between syncs; with one, the first sync of 10,000
 * Services x 10 endpoints peaked at about 370 MiB instead of 480 MiB
 * (tests/bench/bench_kube_proxy.sh, VmHWM).  The loop thread is idle while
 * the worker commits, so the shared arena's lock is not contended.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

#define KP_HUGETLB_TUNABLE "glibc.malloc.hugetlb"

static int thp_offered(void)
{
  char line[128] = "";
  FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return 0;
  if (!fgets(line, sizeof line, f)) line[0] = 0;
  fclose(f);
  return strstr(line, "[always]") || strstr(line, "[madvise]");
}

static void reexec_with_huge_pages(char **argv)
{
  const char *tun = getenv("GLIBC_TUNABLES"), *pre = getenv("LD_PRELOAD");
  if ((tun && strstr(tun, KP_HUGETLB_TUNABLE)) || (pre && strstr(pre, "vgpreload")) || !thp_offered()) return;
  char *val = NULL, *old = tun ? strdup(tun) : NULL;
  if (asprintf(&val, "%s%s" KP_HUGETLB_TUNABLE "=1", tun ? tun : "", tun && *tun ? ":" : "") >= 0 &&
      setenv("GLIBC_TUNABLES", val, 1) == 0)
    execv("/proc/self/exe", argv);
  /* exec failed: run as we are */
  if (old) setenv("GLIBC_TUNABLES", old, 1);
  else unsetenv("GLIBC_TUNABLES");
  free(old);
  free(val);
}

int main(int argc, char **argv)
{
  reexec_with_huge_pages(argv);
  mallopt(M_ARENA_MAX, 1);
  return kp_main(argc, argv);
}
