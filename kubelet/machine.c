/*
 * machine.c - machine facts from /proc, /sys and /etc (see machine.h).
 */
#define _GNU_SOURCE
#include "machine.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

/* First line of a small file, trimmed, into out; 0 or -errno. */
static int read_line(const char *path, char *out, size_t len)
{
  FILE *f = fopen(path, "r");
  if (!f) return -errno;
  out[0] = 0;
  if (!fgets(out, (int)len, f)) out[0] = 0;
  fclose(f);
  size_t n = strlen(out);
  while (n > 0 && isspace((unsigned char)out[n - 1])) out[--n] = 0;
  return 0;
}

const char *kl_goarch(const char *m)
{
  if (!strcmp(m, "x86_64")) return "amd64";
  if (!strcmp(m, "aarch64") || !strcmp(m, "arm64")) return "arm64";
  if (!strncmp(m, "armv", 4)) return "arm";
  if (!strcmp(m, "i386") || !strcmp(m, "i686")) return "386";
  if (!strcmp(m, "ppc64le")) return "ppc64le";
  if (!strcmp(m, "s390x")) return "s390x";
  if (!strcmp(m, "riscv64")) return "riscv64";
  return m;
}

static void read_os_image(char *out, size_t len)
{
  snprintf(out, len, "Linux");
  FILE *f = fopen("/etc/os-release", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "PRETTY_NAME=", 12)) continue;
    char *v = line + 12;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '"' || v[n - 1] == '\'')) v[--n] = 0;
    if (*v == '"' || *v == '\'') v++;
    snprintf(out, len, "%s", v);
    break;
  }
  fclose(f);
}

static int64_t meminfo_kb(const char *key)
{
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[256];
  size_t kl = strlen(key);
  int64_t v = -1;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, key, kl) && line[kl] == ':') {
      v = strtoll(line + kl + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

int kl_machine_read(struct kl_machine *m)
{
  memset(m, 0, sizeof *m);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  m->num_cpus = n > 0 ? (int)n : 1;
  int64_t kb = meminfo_kb("MemTotal");
  m->memory_bytes = kb > 0 ? kb * 1024 : 0;
  struct utsname u;
  if (uname(&u) == 0) {
    snprintf(m->kernel_version, sizeof m->kernel_version, "%s", u.release);
    snprintf(m->architecture, sizeof m->architecture, "%s", kl_goarch(u.machine));
  }
  read_os_image(m->os_image, sizeof m->os_image);
  read_line("/etc/machine-id", m->machine_id, sizeof m->machine_id);
  if (read_line("/sys/class/dmi/id/product_uuid", m->system_uuid, sizeof m->system_uuid) < 0 || !m->system_uuid[0])
    snprintf(m->system_uuid, sizeof m->system_uuid, "%s", m->machine_id);
  read_line("/proc/sys/kernel/random/boot_id", m->boot_id, sizeof m->boot_id);
  if (gethostname(m->hostname, sizeof m->hostname - 1) < 0) snprintf(m->hostname, sizeof m->hostname, "localhost");
  for (char *p = m->hostname; *p; p++) *p = (char)tolower((unsigned char)*p);
  return 0;
}

int kl_fs_stats(const char *path, struct kl_fs_stats *out)
{
  struct statvfs s;
  memset(out, 0, sizeof *out);
  if (statvfs(path, &s) < 0) return -errno;
  out->capacity_bytes = (int64_t)s.f_blocks * (int64_t)s.f_frsize;
  out->available_bytes = (int64_t)s.f_bavail * (int64_t)s.f_frsize;
  out->used_bytes = (int64_t)(s.f_blocks - s.f_bfree) * (int64_t)s.f_frsize;
  out->inodes = (int64_t)s.f_files;
  out->inodes_free = (int64_t)s.f_ffree;
  return 0;
}

int kl_mem_stats(struct kl_mem_stats *out)
{
  memset(out, 0, sizeof *out);
  int64_t total = meminfo_kb("MemTotal"), avail = meminfo_kb("MemAvailable");
  if (total < 0 || avail < 0) return -EIO;
  out->total_bytes = total * 1024;
  out->available_bytes = avail * 1024;
  out->working_set_bytes = out->total_bytes - out->available_bytes;
  return 0;
}

int kl_default_node_ip(const char *hostname, char *out, size_t len)
{
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
  if (hostname && getaddrinfo(hostname, NULL, &hints, &res) == 0) {
    for (struct addrinfo *a = res; a; a = a->ai_next) {
      struct in_addr in = ((struct sockaddr_in *)a->ai_addr)->sin_addr;
      if ((ntohl(in.s_addr) >> 24) == 127) continue;
      inet_ntop(AF_INET, &in, out, (socklen_t)len);
      freeaddrinfo(res);
      return 0;
    }
    freeaddrinfo(res);
  }
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) < 0) return -errno;
  int rc = -ENOENT;
  for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    struct in_addr in = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
    uint32_t h = ntohl(in.s_addr);
    if ((h >> 24) == 127 || (h >> 16) == 0xa9fe) continue; /* loopback, link-local */
    inet_ntop(AF_INET, &in, out, (socklen_t)len);
    rc = 0;
    break;
  }
  freeifaddrs(ifs);
  return rc;
}
