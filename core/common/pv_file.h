/*
 * pv_file — checks on files the process reads secrets from.
 *
 * Rule: a key file must be readable and writable by its owner only, as
 * OpenSSH asks of a private key: a key others can read is a key others may
 * have, and the process refuses it rather than run with it.
 */
#ifndef PV_FILE_H
#define PV_FILE_H

#include "core/common/pv_error.h"

/*
 * Checks the open file fd (path and what name it in the error): a regular
 * file with no permission bits for group or others.
 * Returns: 0, PV_EINVAL (group or others may read or write it, or it is not
 * a regular file; the hint says `chmod 600 PATH`), PV_EIO (fstat failed).
 */
int pv_file_check_private(int fd, const char *what, const char *path, pv_error *err);

#endif
