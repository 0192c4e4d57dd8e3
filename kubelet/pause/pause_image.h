/*
 * pause_image.h - the built-in sandbox image: the static pause binary
 * (pause.c), embedded into the kubelet at build time, packed as the root
 * filesystem tarball the runtime imports (runtime.h import_image) when the
 * sandbox image is missing.  A tarball holds one regular file, "pause"
 * (mode 0755), in POSIX ustar format; the image's entrypoint is ["/pause"].
 */
#ifndef KL_PAUSE_IMAGE_H
#define KL_PAUSE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* The embedded binary. */
const unsigned char *kl_pause_binary(size_t *len);
/* A ustar archive with one regular file `name` (mode, mtime) holding
 * data; malloc'd, *out_len set; NULL on allocation failure. */
unsigned char *kl_tar_one_file(const char *name, unsigned mode, int64_t mtime, const void *data, size_t len,
                               size_t *out_len);
/* The pause root filesystem as a tarball (free() it). */
unsigned char *kl_pause_rootfs_tar(size_t *out_len);

#endif
