/*
 * ipam.c - host-local address allocation in files (see ipam.h).
 */
#include "ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAST_RESERVED_FILE "last_reserved_ip"
#define UID_MAX_BYTES 128

int kl_cidr_parse(const char *cidr, uint32_t *net, int *prefix)
{
  char buf[64];
  if (!cidr || strlen(cidr) >= sizeof buf) return -EINVAL;
  strcpy(buf, cidr);
  char *slash = strchr(buf, '/');
  if (!slash) return -EINVAL;
  *slash = '\0';
  char *end;
  errno = 0;
  long p = strtol(slash + 1, &end, 10);
  if (errno || end == slash + 1 || *end || p < 0 || p > 32) return -EINVAL;
  struct in_addr a;
  if (inet_pton(AF_INET, buf, &a) != 1) return -EINVAL;
  uint32_t mask = p == 0 ? 0 : 0xffffffffu << (32 - p);
  *net = ntohl(a.s_addr) & mask;
  *prefix = (int)p;
  return 0;
}

void kl_ip_format(uint32_t ip, char *buf, size_t len)
{
  struct in_addr a = {.s_addr = htonl(ip)};
  if (!inet_ntop(AF_INET, &a, buf, (socklen_t)len) && len) buf[0] = '\0';
}

uint32_t kl_cidr_gateway(uint32_t net, int prefix)
{
  (void)prefix;
  return net + 1;
}

static int mkdir_p(const char *path)
{
  char buf[4096];
  if (strlen(path) >= sizeof buf) return -ENAMETOOLONG;
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -errno;
  return 0;
}

int kl_ipam_open(struct kl_ipam *a, const char *dir)
{
  memset(a, 0, sizeof *a);
  if (strlen(dir) >= sizeof a->dir - 32) return -ENAMETOOLONG;
  strcpy(a->dir, dir);
  return mkdir_p(dir);
}

int kl_ipam_set_range(struct kl_ipam *a, const char *cidr)
{
  uint32_t net;
  int prefix;
  int rc = kl_cidr_parse(cidr, &net, &prefix);
  if (rc < 0) return rc;
  if (prefix > 30) return -EINVAL;
  a->net = net;
  a->prefix = prefix;
  a->have_range = true;
  return 0;
}

/* Reads the owner written in an address file into uid ("" if empty). */
static int read_owner(const struct kl_ipam *a, const char *name, char *uid, size_t len)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", a->dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, uid, len - 1);
  int err = n < 0 ? -errno : 0;
  close(fd);
  if (err) return err;
  uid[n] = '\0';
  uid[strcspn(uid, "\r\n")] = '\0';
  return 0;
}

/* An entry of the directory that names an address (not last_reserved_ip). */
static bool entry_ip(const char *name, uint32_t *ip)
{
  struct in_addr in;
  if (inet_pton(AF_INET, name, &in) != 1) return false;
  *ip = ntohl(in.s_addr);
  return true;
}

int kl_ipam_find(struct kl_ipam *a, const char *uid, uint32_t *ip)
{
  DIR *d = opendir(a->dir);
  if (!d) return -errno;
  int rc = -ENOENT;
  struct dirent *de;
  while ((de = readdir(d))) {
    uint32_t cand;
    char owner[UID_MAX_BYTES + 2];
    if (!entry_ip(de->d_name, &cand)) continue;
    if (read_owner(a, de->d_name, owner, sizeof owner) < 0) continue;
    if (strcmp(owner, uid) == 0) {
      *ip = cand;
      rc = 0;
      break;
    }
  }
  closedir(d);
  return rc;
}

static uint32_t last_reserved(const struct kl_ipam *a)
{
  char buf[64];
  if (read_owner(a, LAST_RESERVED_FILE, buf, sizeof buf) < 0) return 0;
  uint32_t ip;
  return entry_ip(buf, &ip) ? ip : 0;
}

/* Writes a whole small file through a temporary name and rename. */
static int write_file_atomic(const struct kl_ipam *a, const char *name, const char *data)
{
  char tmp[4200], path[4200];
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", a->dir, name);
  snprintf(path, sizeof path, "%s/%s", a->dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  size_t len = strlen(data);
  int rc = write(fd, data, len) == (ssize_t)len ? 0 : -EIO;
  if (rc == 0 && fsync(fd) < 0) rc = -errno;
  close(fd);
  if (rc == 0 && rename(tmp, path) < 0) rc = -errno;
  if (rc < 0) unlink(tmp);
  return rc;
}

/* Claims one address: 0, -EEXIST when taken, or another -errno. */
static int claim(const struct kl_ipam *a, uint32_t ip, const char *uid)
{
  char name[INET_ADDRSTRLEN], path[4200];
  kl_ip_format(ip, name, sizeof name);
  snprintf(path, sizeof path, "%s/%s", a->dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  size_t len = strlen(uid);
  int rc = write(fd, uid, len) == (ssize_t)len ? 0 : -EIO;
  if (rc == 0 && fsync(fd) < 0) rc = -errno;
  close(fd);
  if (rc < 0) {
    unlink(path);
    return rc;
  }
  write_file_atomic(a, LAST_RESERVED_FILE, name);
  return 0;
}

int kl_ipam_allocate(struct kl_ipam *a, const char *uid, uint32_t *ip)
{
  if (!uid || !*uid || strlen(uid) > UID_MAX_BYTES || strchr(uid, '\n')) return -EINVAL;
  if (kl_ipam_find(a, uid, ip) == 0) return 0;
  if (!a->have_range) return -EAGAIN;
  uint32_t size = a->prefix == 0 ? 0xffffffffu : (1u << (32 - a->prefix));
  uint32_t first = a->net + 2, last = a->net + size - 2; /* skip network, gateway, broadcast */
  uint32_t count = last - first + 1;
  uint32_t prev = last_reserved(a);
  uint32_t start = (prev >= first && prev < last) ? prev + 1 : first;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t cand = first + (start - first + i) % count;
    int rc = claim(a, cand, uid);
    if (rc == 0) {
      *ip = cand;
      return 0;
    }
    if (rc != -EEXIST) return rc;
  }
  return -ENOSPC;
}

/* Removes every address file for which keep() is false. */
static int sweep(struct kl_ipam *a, bool (*keep)(const char *owner, void *arg), void *arg)
{
  DIR *d = opendir(a->dir);
  if (!d) return errno == ENOENT ? 0 : -errno;
  int released = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    uint32_t ip;
    char owner[UID_MAX_BYTES + 2];
    if (!entry_ip(de->d_name, &ip)) continue;
    if (read_owner(a, de->d_name, owner, sizeof owner) < 0) continue;
    if (keep(owner, arg)) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", a->dir, de->d_name);
    if (unlink(path) == 0) released++;
  }
  closedir(d);
  return released;
}

static bool keep_other(const char *owner, void *arg) { return strcmp(owner, (const char *)arg) != 0; }

int kl_ipam_release(struct kl_ipam *a, const char *uid)
{
  int rc = sweep(a, keep_other, (void *)uid);
  return rc < 0 ? rc : 0;
}

struct gc_arg {
  bool (*alive)(const char *uid, void *arg);
  void *arg;
};

static bool keep_alive(const char *owner, void *arg)
{
  struct gc_arg *g = arg;
  return owner[0] && g->alive(owner, g->arg);
}

int kl_ipam_gc(struct kl_ipam *a, bool (*alive)(const char *uid, void *arg), void *arg)
{
  struct gc_arg g = {alive, arg};
  return sweep(a, keep_alive, &g);
}

int kl_ipam_clear(struct kl_ipam *a)
{
  DIR *d = opendir(a->dir);
  if (!d) return errno == ENOENT ? 0 : -errno;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", a->dir, de->d_name);
    unlink(path);
  }
  closedir(d);
  return 0;
}
