// lowbit — the one exception type of the library.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

#include "config.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Thrown by buffer-level APIs on misuse (size mismatch, group size 0, bad file).
/// `argument()` names the offending argument; `what()` is a full sentence that names it too.
class error : public std::runtime_error {
public:
    error(std::string_view argument, std::string_view message)
        : std::runtime_error("lowbit: " + std::string(argument) + ": " + std::string(message)),
          argument_(argument) {}
    [[nodiscard]] const std::string& argument() const noexcept { return argument_; }

private:
    std::string argument_;
};

namespace detail {
/// Throws lowbit::error when `ok` is false.
inline void require(bool ok, std::string_view argument, std::string_view message) {
    if (!ok) throw error(argument, message);
}
}  // namespace detail

LOWBIT_NAMESPACE_END
