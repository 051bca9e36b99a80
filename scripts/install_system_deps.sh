#!/usr/bin/env bash
# Debian/Ubuntu packages AutoGLM Desktop needs besides Python: what Qt's xcb platform plugin
# loads (xcb, xkbcommon, EGL/GL, fontconfig, D-Bus), a CJK font for Chinese text, and Xvfb for
# headless runs and screenshots.
#
# Installs only what is missing, so running it again costs nothing. Extra package names may be
# given as arguments. Exit status: 0 when everything is present (or was just installed);
# 3 when something is missing but cannot be installed from here (the command to run is
# printed); anything else means apt-get failed.
set -euo pipefail

PACKAGES=(
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
  libxcb-xkb1 libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0
  libegl1 libgl1 libfontconfig1 libdbus-1-3
  xvfb fonts-noto-cjk
)
PACKAGES+=("$@")

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "No apt-get here. Install your distribution's equivalents of:"
  echo "  ${PACKAGES[*]}"
  exit 3
fi

is_installed() {
  # Not grep -q: its early exit could kill dpkg-query with SIGPIPE, which pipefail reports.
  dpkg-query -W -f='${db:Status-Status}\n' "$1" 2>/dev/null | grep -x installed >/dev/null
}

missing=()
for package in "${PACKAGES[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "System packages: all ${#PACKAGES[@]} present."
  exit 0
fi

install_command="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}"
  echo "Install them with:"
  echo "  sudo apt-get update && sudo $install_command"
  exit 3
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
