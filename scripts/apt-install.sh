# Sourced by the scripts that install what is absent: `apt_install PKG...`
# installs Debian packages, or says what to install when not root.
apt_install() {
  [ $# -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing $*: install them (apt-get install $*) or run as root"
    exit 1
  fi
  log "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}
