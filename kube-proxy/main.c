/*
 * main.c - kube-proxy entry point; the program is in app.c, the proxier
 * in proxier.c, the cluster DNS in dns*.c.
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

#include "app.h"

int main(int argc, char **argv)
{
  mallopt(M_ARENA_MAX, 1);
  return kp_main(argc, argv);
}
