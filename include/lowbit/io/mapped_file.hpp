// lowbit — a file's bytes for a reader: memory-mapped read-only where the platform has mmap
// (nothing is copied; a page is read when it is touched), read into memory otherwise.
#pragma once
#include "../core/config.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define LOWBIT_IO_MMAP 1
#endif

#include "../core/error.hpp"
#include "npy.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The bytes of a file, mapped or read. Movable, not copyable; bytes() stays valid (at the same
/// address) while the object or the one it was moved to lives. If another process truncates the
/// file while it is mapped, touching the lost pages raises SIGBUS: lowbit's writers replace
/// files by rename, which leaves a mapping of the old file intact.
class mapped_file {
public:
    mapped_file() = default;
    /// Opens and maps (or reads) `path`; lowbit::error naming the path when it cannot.
    explicit mapped_file(const std::filesystem::path& path) : path_(path) {
#if defined(LOWBIT_IO_MMAP)
        const std::string name = path.string();
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            throw error(name, std::string("cannot be opened: ") + std::strerror(err));
        }
        struct stat st {};
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            throw error(name, "is not a regular file");
        }
        const auto size = static_cast<std::uintmax_t>(st.st_size);
        if (size > std::uintmax_t(std::numeric_limits<std::ptrdiff_t>::max())) {
            ::close(fd);
            throw error(name, "is too large to map");
        }
        size_ = static_cast<std::size_t>(size);
        if (size_ > 0) {  // mmap of 0 bytes fails
            void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            const int err = errno;
            ::close(fd);  // the mapping keeps the file
            if (m == MAP_FAILED)
                throw error(name, std::string("cannot be mapped: ") + std::strerror(err));
            map_ = m;
        } else {
            ::close(fd);
        }
#else
        small_ = detail::read_file_bytes(path);
        size_ = small_.size();
#endif
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    mapped_file(mapped_file&& o) noexcept
        : path_(std::move(o.path_)),
          map_(std::exchange(o.map_, nullptr)),
          size_(std::exchange(o.size_, 0)),
          small_(std::move(o.small_)) {}
    mapped_file& operator=(mapped_file&& o) noexcept {
        if (this != &o) {
            release();
            path_ = std::move(o.path_);
            map_ = std::exchange(o.map_, nullptr);
            size_ = std::exchange(o.size_, 0);
            small_ = std::move(o.small_);
        }
        return *this;
    }
    ~mapped_file() { release(); }

    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept {
        return map_ ? std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(map_), size_)
                    : std::span<const std::uint8_t>(small_);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// True when the bytes are a memory mapping of the file, false when they were read in.
    [[nodiscard]] bool memory_mapped() const noexcept { return map_ != nullptr; }

private:
    void release() noexcept {
#if defined(LOWBIT_IO_MMAP)
        if (map_) ::munmap(map_, size_);
#endif
        map_ = nullptr;
        size_ = 0;
        small_.clear();
    }

    std::filesystem::path path_;
    void* map_ = nullptr;
    std::size_t size_ = 0;
    std::vector<std::uint8_t> small_;  ///< the bytes, where they are not mapped
};

LOWBIT_NAMESPACE_END
