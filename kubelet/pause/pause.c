/*
 * pause.c - the sandbox process of every pod.
 *
 * It holds the pod's network, IPC and UTS namespaces open for the app
 * containers that join them, and does nothing else: it sleeps until a
 * signal comes.  SIGINT and SIGTERM end it (exit 0); SIGCHLD reaps
 * children, so that when the pod shares one PID namespace (it is then PID
 * 1 there) orphaned processes never linger as zombies.  Built statically
 * (no libraries in the image) and embedded into the kubelet, which
 * imports it as the sandbox image when the runtime lacks it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_VERSION "3.10"

static void on_term(int sig)
{
  (void)sig;
  _exit(0);
}

static void on_child(int sig)
{
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static void handle(int sig, void (*fn)(int))
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) < 0) {
    perror("sigaction");
    exit(1);
  }
}

int main(int argc, char **argv)
{
  if (argc > 1 && !strcmp(argv[1], "-v")) {
    printf("pause.c %s\n", PAUSE_VERSION);
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "Warning: pause should be the first process\n");
  handle(SIGINT, on_term);
  handle(SIGTERM, on_term);
  handle(SIGCHLD, on_child);
  for (;;) pause();
}
