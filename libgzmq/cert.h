/* cert.c's services to zauth.c. */
#ifndef GZ_CERT_H
#define GZ_CERT_H

#include <stdio.h>

#include "gzmq/auth.h"

/* gz_cert_load without looking for PATH_secret: what a directory of
 * allowed client keys needs. NULL: fopen's errors, EBADMSG, ENOMEM. */
gz_cert *gz__cert_load_public(const char *path);

/* Read one line of F into BUF without its end of line: 1, 0 at the end
 * of F, or -1 for a line longer than SIZE - 1 (the rest of it is skipped,
 * so it never comes back as a line of its own). */
int gz__getline(FILE *f, char *buf, size_t size);

#endif
