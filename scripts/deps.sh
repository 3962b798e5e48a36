# Sourced by the other scripts: installs the Debian 12 packages lowbit needs when some are
# missing (as root, or through sudo), and does nothing when all are there.
lowbit_packages=(cmake make g++ libeigen3-dev libxsimd-dev nlohmann-json3-dev doctest-dev libbenchmark-dev libxnnpack-dev libpthreadpool-dev)

lowbit_install() {  # lowbit_install PACKAGE...: apt-get install those not installed yet
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "lowbit: installing ${missing[*]}" >&2
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "lowbit: need root (or sudo) to install ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

lowbit_deps() { lowbit_install "${lowbit_packages[@]}"; }

# The ISA matrix's extra packages (scripts/test-isa.sh): the aarch64 cross compiler and qemu-user.
lowbit_isa_packages=(g++-aarch64-linux-gnu qemu-user)
