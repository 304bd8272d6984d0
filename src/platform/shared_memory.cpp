#include "platform/shared_memory.hpp"

#include "floe/error.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

namespace floe::detail {

Errc errc_of_os_error(int error) noexcept {
  switch (error) {
    case ENOMEM:
    case ENOSPC:
    case EFBIG:  // beyond RLIMIT_FSIZE or what tmpfs allows for one file
      return Errc::out_of_memory;
    case EACCES:
    case EPERM:
      return Errc::permission_denied;
    default:
      return Errc{};
  }
}

void throw_os_error(int error, const std::string& what) {
  const std::string message = what + ": " + std::strerror(error);
  if (const Errc code = errc_of_os_error(error); code != Errc{}) throw Error(code, message);
  // No floe condition fits (EMFILE, say): the errno itself is the most precise code, still
  // as a floe::Error so one catch handles every failure of floe.
  throw Error(std::error_code(error, std::generic_category()), message);
}

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw_os_error(errno, what);
}

}  // namespace

SharedMemoryObject SharedMemoryObject::create_unnamed(mode_t mode) {
  FileDescriptor fd(::open(kShmDirectory, O_TMPFILE | O_RDWR | O_CLOEXEC, mode));
  if (!fd) throw_errno(std::string("open(") + kShmDirectory + ", O_TMPFILE)");
  // open honours the umask; the mode asked for is the mode meant.
  if (::fchmod(fd.get(), mode) != 0) throw_errno(std::string("fchmod(") + kShmDirectory + ")");
  return SharedMemoryObject(std::string(), std::move(fd));
}

bool SharedMemoryObject::publish_as(const std::string& name) {
  const std::string path = kShmDirectory + name;
  int result = ::linkat(fd_.get(), "", AT_FDCWD, path.c_str(), AT_EMPTY_PATH);
  if (result != 0 && errno == ENOENT) {
    // Before Linux 6.10, AT_EMPTY_PATH wants CAP_DAC_READ_SEARCH; the descriptor's /proc link
    // does the same for anyone.
    const std::string self = "/proc/self/fd/" + std::to_string(fd_.get());
    result = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
  }
  if (result != 0) {
    if (errno == EEXIST) return false;
    throw_errno("linkat(" + path + ")");
  }
  name_ = name;
  return true;
}

std::optional<SharedMemoryObject> SharedMemoryObject::open_existing(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == EACCES) {
      throw Error(Errc::permission_denied,
                  "floe: " + name +
                      " belongs to another user (created without group access, or "
                      "for another group)");
    }
    throw_errno("shm_open(" + name + ")");
  }
  return SharedMemoryObject(name, FileDescriptor(fd));
}

void SharedMemoryObject::unlink(const std::string& name) noexcept {
  ::shm_unlink(name.c_str());
}

void SharedMemoryObject::reserve(std::size_t size) {
  // posix_fallocate, not ftruncate: tmpfs then backs every page now, or fails with ENOSPC
  // now, instead of handing out a sparse object whose first touch beyond what /dev/shm holds
  // is a SIGBUS. It reports its error as its result, not in errno.
  const int error = ::posix_fallocate(fd_.get(), 0, static_cast<off_t>(size));
  if (error != 0) throw_os_error(error, "posix_fallocate(" + name_ + ")");
}

std::size_t SharedMemoryObject::size() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw_errno("fstat(" + name_ + ")");
  return static_cast<std::size_t>(st.st_size);
}

Mapping::Mapping(int fd, std::size_t size) : size_(size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_errno("mmap(" + std::to_string(size) + " bytes)");
  data_ = static_cast<std::byte*>(p);
  try {
    guard_ = SigbusGuard(data_, size_);
  } catch (...) {
    unmap();
    throw;
  }
}

Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      guard_(std::move(other.guard_)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    unmap();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    guard_ = std::move(other.guard_);
  }
  return *this;
}

Mapping::~Mapping() {
  unmap();
}

void Mapping::unmap() noexcept {
  guard_ = SigbusGuard();  // unguarded before unmapped: the range may be reused at once
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

ExclusiveLock::ExclusiveLock(int fd) : fd_(fd) {
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) throw_errno("flock");
  }
}

ExclusiveLock::~ExclusiveLock() {
  ::flock(fd_, LOCK_UN);
}

}  // namespace floe::detail
