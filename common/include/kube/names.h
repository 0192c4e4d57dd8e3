/*
 * names.h - object names: generateName, DNS-1123 and qualified-name
 * validation with upstream's messages, UIDs.
 */
#ifndef KUBE_NAMES_H
#define KUBE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* prefix + 5 random chars from upstream's alphabet; prefix cut to 58
 * chars first. Caller frees. */
char *names_generate(const char *prefix);
/* Random UUID v4 "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" into out[37]. */
void names_uuid(char out[37]);

/* Each returns true if valid; otherwise false and writes upstream's
 * message into msg, e.g. for a label: "a lowercase RFC 1123 label must
 * consist of lower case alphanumeric characters or '-', and must start and
 * end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex
 * used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')". */
bool names_is_dns1123_label(const char *s, char *msg, size_t len);
bool names_is_dns1123_subdomain(const char *s, char *msg, size_t len);
bool names_is_dns1035_label(const char *s, char *msg, size_t len);
/* Label/annotation keys ("prefix/name") and label values. */
bool names_is_qualified_name(const char *s, char *msg, size_t len);
bool names_is_label_value(const char *s, char *msg, size_t len);
/* Path segment names: not "." or "..", no "/" or "%". */
bool names_is_path_segment(const char *s, char *msg, size_t len);

#endif
