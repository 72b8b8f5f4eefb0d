/* pv_file — see pv_file.h. */
#include "core/common/pv_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int pv_file_check_private(int fd, const char *what, const char *path, pv_error *err) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    pv_error_set(err, PV_EIO, NULL, "could not stat the %s \"%s\"", what, path);
    pv_error_detail(err, "%s.", strerror(errno));
    return PV_EIO;
  }
  if (!S_ISREG(st.st_mode))
    return pv_error_set(err, PV_EINVAL, NULL, "the %s \"%s\" is not a regular file", what, path);
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    pv_error_set(err, PV_EINVAL, NULL, "the %s \"%s\" can be read or written by other users",
                 what, path);
    pv_error_detail(err, "Its mode is %03o; a key file must be its owner's alone.",
                    (unsigned)(st.st_mode & 0777));
    pv_error_hint(err, "chmod 600 %s", path);
    return PV_EINVAL;
  }
  return 0;
}
