#include "platform/shared_memory.hpp"

#include "floe/error.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace floe::detail {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::optional<SharedMemoryObject> SharedMemoryObject::create_exclusive(const std::string& name,
                                                                       mode_t mode) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return std::nullopt;
    throw_errno("shm_open(" + name + ", O_CREAT)");
  }
  // shm_open honours the umask; the mode asked for is the mode meant.
  if (::fchmod(fd, mode) != 0) {
    FileDescriptor guard(fd);
    throw_errno("fchmod(" + name + ")");
  }
  return SharedMemoryObject(name, FileDescriptor(fd));
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

void SharedMemoryObject::resize(std::size_t size) {
  if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0)
    throw_errno("ftruncate(" + name_ + ")");
}

std::size_t SharedMemoryObject::size() const {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw_errno("fstat(" + name_ + ")");
  return static_cast<std::size_t>(st.st_size);
}

Mapping::Mapping(int fd, std::size_t size) : size_(size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_errno("mmap");
  data_ = static_cast<std::byte*>(p);
}

Mapping::Mapping(Mapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Mapping::~Mapping() {
  if (data_ != nullptr) ::munmap(data_, size_);
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
