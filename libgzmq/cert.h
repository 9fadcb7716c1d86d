/* cert.c's service to zauth.c. */
#ifndef GZ_CERT_H
#define GZ_CERT_H

#include "gzmq/auth.h"

/* gz_cert_load without looking for PATH_secret: what a directory of
 * allowed client keys needs. NULL: fopen's errors, EBADMSG, ENOMEM. */
gz_cert *gz__cert_load_public(const char *path);

#endif
