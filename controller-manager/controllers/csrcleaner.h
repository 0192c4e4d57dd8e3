/*
 * csrcleaner.h - the pure step of the csrcleaner controller
 * (csrcleaner.c), for tests.
 */
#ifndef CM_CSRCLEANER_H
#define CM_CSRCLEANER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#define CSRCLEAN_APPROVED_S 3600 /* issued: an hour after approval */
#define CSRCLEAN_DENIED_S 3600   /* denied: an hour after */
#define CSRCLEAN_FAILED_S 3600   /* failed: an hour after */
#define CSRCLEAN_PENDING_S 86400 /* no condition: a day after creation */
#define CSRCLEAN_POLL_S 3600     /* upstream's pollingInterval */

/* Whether csr is past one of upstream's deadlines at now (or its issued
 * certificate has expired).  Otherwise *next_s (when not NULL) is the
 * number of seconds until the first deadline, at most CSRCLEAN_POLL_S. */
bool csrclean_due(const json_t *csr, time_t now, int64_t *next_s);

#endif
