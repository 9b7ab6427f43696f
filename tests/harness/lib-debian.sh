#!/usr/bin/env bash
# Sourced by the image builders (ensure-images.sh: the test containers; ensure-vm-images.sh: the VM lab's disks):
# what a Debian image of this project is told about Debian, written once.
#   debian_codename REL                         12 -> bookworm, 13 -> trixie
#   debian_sources MIRROR SECURITY_MIRROR CODE  deb822 sources like the official image's, main only (the roles
#                                               add the components they need)
debian_codename() { case "$1" in 12) echo bookworm ;; 13) echo trixie ;; *) echo "unknown release $1" >&2; return 1 ;; esac; }

debian_sources() {
  local mirror=$1 security_mirror=$2 code=$3
  cat <<EOS
Types: deb
URIs: $mirror
Suites: $code $code-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $code-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
}
