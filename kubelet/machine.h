/*
 * machine.h - facts about the machine the kubelet runs on, read from
 * /proc, /sys, /etc and statvfs(): what cAdvisor's MachineInfo gives
 * upstream's kubelet for the Node's capacity and nodeInfo.
 */
#ifndef KL_MACHINE_H
#define KL_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kl_machine {
  int num_cpus;
  int64_t memory_bytes;     /* MemTotal */
  char kernel_version[128]; /* uname -r */
  char os_image[256];       /* PRETTY_NAME of /etc/os-release */
  char machine_id[64];      /* /etc/machine-id */
  char system_uuid[64];     /* /sys/class/dmi/id/product_uuid, else machine id */
  char boot_id[64];         /* /proc/sys/kernel/random/boot_id */
  char architecture[32];    /* GOARCH spelling: amd64, arm64 ... */
  char hostname[256];       /* lower-cased gethostname() */
};

struct kl_fs_stats {
  int64_t capacity_bytes;
  int64_t available_bytes;
  int64_t used_bytes;
  int64_t inodes;
  int64_t inodes_free;
};

struct kl_mem_stats {
  int64_t total_bytes;
  int64_t available_bytes;   /* MemAvailable */
  int64_t working_set_bytes; /* total - available, as cAdvisor counts the root */
};

/* 0 or -errno.  Fields that cannot be read stay empty. */
int kl_machine_read(struct kl_machine *m);
int kl_fs_stats(const char *path, struct kl_fs_stats *out);
int kl_mem_stats(struct kl_mem_stats *out);
/* GOARCH name for a uname machine ("x86_64" -> "amd64"). */
const char *kl_goarch(const char *uname_machine);
/* The node's IPv4 address when --node-ip is not given: the address the
 * hostname resolves to if it is not loopback, else the first global IPv4
 * address of an interface that is up.  0 or -ENOENT. */
int kl_default_node_ip(const char *hostname, char *out, size_t len);

#endif
