// What the command-line tests share: running one of lowbit's programs through the shell (behind
// the cross build's emulator, if any) with its exit status, stdout and stderr captured, reading a
// file whole, and naming scratch files that no other process uses.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lowbit_cli {

struct run_result {
    int status = -1;  ///< the exit status; -1 when the program did not exit normally
    std::string out, err;
};

/// The whole file (empty when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

/// <temporary directory>/<tag>_<pid>_<name>: distinct per test program and per process.
inline std::filesystem::path scratch(const std::string& tag, const std::string& name) {
    return std::filesystem::temp_directory_path() /
        (tag + "_" + std::to_string(::getpid()) + "_" + name);
}

/// Runs `<launcher>'<exe>' <args>` (args as the shell reads them), stdout and stderr through
/// scratch files that are removed afterwards.
inline run_result run_program(const std::string& launcher, const std::string& exe,
                              const std::string& tag, const std::string& args) {
    static int k = 0;
    const auto out = scratch(tag, "out" + std::to_string(k));
    const auto err = scratch(tag, "err" + std::to_string(k++));
    const std::string cmd =
        launcher + "'" + exe + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int raw = std::system(cmd.c_str());
    run_result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return r;
}

}  // namespace lowbit_cli
