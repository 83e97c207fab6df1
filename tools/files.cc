#include "tools/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace samplan::tools {

absl::Status WriteFileWithMode(const std::string& path, const std::string& contents,
                               mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::UnavailableError(path + ": " + std::strerror(errno));
  }
  // An existing file keeps its old mode through O_CREAT; a private key must not.
  if (fchmod(fd, mode) != 0) {
    int err = errno;
    close(fd);
    return absl::UnavailableError(path + ": " + std::strerror(err));
  }
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return absl::UnavailableError(path + ": " + std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    return absl::UnavailableError(path + ": " + std::strerror(errno));
  }
  return absl::OkStatus();
}

}  // namespace samplan::tools
