/*
 * csrapproving.h - the pure steps of the csrapproving controller
 * (csrapproving.c), for tests.
 */
#ifndef CM_CSRAPPROVING_H
#define CM_CSRAPPROVING_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>

/* The subresources of certificatesigningrequests whose create permission
 * would approve csr, in upstream's order ("selfnodeclient", then
 * "nodeclient"); returns how many were written to out (0: not a node
 * client request, or already approved, denied or issued). */
size_t csrapprove_recognize(const json_t *csr, const char *out[2]);
/* New reference: the SubjectAccessReview asking whether csr's requestor
 * may create certificatesigningrequests/SUBRESOURCE. */
json_t *csrapprove_sar(const json_t *csr, const char *subresource);
/* New reference: csr with the Approved condition (reason AutoApproved)
 * for the approval PUT. */
json_t *csrapprove_approved(const json_t *csr, const char *subresource);

#endif
