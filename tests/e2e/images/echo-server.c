/*
 * echo-server.c - the end-to-end suite's test image: a tiny HTTP server
 * that answers every request with the name of the pod it runs in, so a
 * client behind a Service can tell which backend answered.
 *
 *   echo-server [PORT]        (default 8080)
 *
 * The answer body is one line, "NAME VERSION PATH\n": NAME is $POD_NAME when
 * set, else the host name (a pod's host name is its name); VERSION is
 * $ECHO_VERSION (set by the image, so a rolling update from one image tag
 * to the next is visible in the answers); PATH is the request path.
 *
 * One process, one connection at a time: it reads the request head (at
 * most REQ_MAX_BYTES, at most IO_TIMEOUT_S per read), writes the answer
 * with Connection: close and closes.  It runs as PID 1 of its container,
 * where SIGTERM has no default action, so SIGTERM and SIGINT are caught
 * and end it at once with status 0.  Statically linked: the image holds
 * nothing else it needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REQ_MAX_BYTES 8192
#define IO_TIMEOUT_S 5

static void on_term(int sig)
{
  (void)sig;
  _exit(0);
}

/* Reads until the end of the request head; returns its length or -1. */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) return r == 0 && n > 0 ? (ssize_t)n : -1;
    n += (size_t)r;
    buf[n] = '\0';
    if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) return (ssize_t)n;
  }
  return (ssize_t)n;
}

/* The path of "GET /path HTTP/1.1" into path (at most len-1 bytes). */
static void request_path(const char *head, char *path, size_t len)
{
  const char *sp = strchr(head, ' ');
  size_t n = 0;
  if (sp) {
    for (sp++; *sp && *sp != ' ' && *sp != '\r' && *sp != '\n' && n + 1 < len; sp++) path[n++] = *sp;
  }
  if (n == 0) path[n++] = '/';
  path[n] = '\0';
}

static void write_all(int fd, const char *p, size_t len)
{
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    len -= (size_t)w;
  }
}

static void serve(int fd, const char *name, const char *version)
{
  char head[REQ_MAX_BYTES], path[256], body[512], out[1024];
  struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (read_head(fd, head, sizeof head) < 0) return;
  request_path(head, path, sizeof path);
  int blen = snprintf(body, sizeof body, "%s %s %s\n", name, version, path);
  int olen = snprintf(out, sizeof out,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n%s",
                      blen, body);
  write_all(fd, out, (size_t)olen);
}

int main(int argc, char **argv)
{
  int port = argc > 1 ? atoi(argv[1]) : 8080;
  char host[256] = "unknown";
  const char *name = getenv("POD_NAME");
  const char *version = getenv("ECHO_VERSION");
  if (!name || !*name) {
    gethostname(host, sizeof host - 1);
    name = host;
  }
  if (!version || !*version) version = "0";
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "echo-server: bad port %s\n", argv[1]);
    return 2;
  }

  struct sigaction sa = {.sa_handler = on_term};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int ls = socket(AF_INET6, SOCK_STREAM, 0);
  int off = 0, on = 1;
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
  if (ls >= 0) {
    setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(ls, (struct sockaddr *)&a6, sizeof a6) < 0) {
      close(ls);
      ls = -1;
    }
  }
  if (ls < 0) { /* no IPv6 in this namespace: IPv4 only */
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = INADDR_ANY};
    ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a4, sizeof a4) < 0) {
      perror("echo-server: bind");
      return 1;
    }
  }
  if (listen(ls, 64) < 0) {
    perror("echo-server: listen");
    return 1;
  }
  printf("echo-server %s version %s listening on :%d\n", name, version, port);
  fflush(stdout);
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR) continue;
      perror("echo-server: accept");
      return 1;
    }
    serve(fd, name, version);
    close(fd);
  }
}
