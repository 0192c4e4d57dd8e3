/*
 * encryption_config.h - --encryption-provider-config (see
 * encryption_config.c).
 */
#ifndef APISERVER_ENCRYPTION_CONFIG_H
#define APISERVER_ENCRYPTION_CONFIG_H

#include <stddef.h>

struct storage_crypt;
/* The transformers of an EncryptionConfiguration file (storage_crypt_free
 * frees them), or NULL with a message naming the file and field. */
struct storage_crypt *encryption_config_load(const char *path, char *err, size_t errlen);

#endif
