# Shared by scripts/dev and scripts/test: install what is missing from
# Debian's packages, then configure and build.  Sourced, not run.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# What building and testing needs, as Debian 12 package names.
packages="gcc pkg-config meson ninja-build libevent-dev libyaml-dev
    libpcre2-dev libssl-dev libcriterion-dev curl ca-certificates
    chromium"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# can_install PACKAGES: exits with the command to run when this user can
# neither install nor borrow root: a fresh Debian has no sudo.
can_install() {
	if [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; then
		return 0
	fi
	cat >&2 <<EOF
$0: missing Debian packages: $1
$0: sudo is not installed, so $(id -un) cannot install them; as root, run

    apt-get update && apt-get install -y $1

and then $0 again.
EOF
	exit 1
}

missing_packages() {
	for p in $packages; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || echo "$p"
	done
	# 2.1.12-stable-8+deb12u1 carries the HTTP parsing fixes we rely on.
	v=$(dpkg-query -W -f='${Version}' libevent-dev 2>/dev/null || true)
	if [ -n "$v" ] &&
	    dpkg --compare-versions "$v" lt 2.1.12-stable-8+deb12u1; then
		echo libevent-dev
	fi
	command -v node >/dev/null 2>&1 || echo nodejs
	command -v npm >/dev/null 2>&1 || echo npm
}

install_missing() {
	missing=$(missing_packages | sort -u | tr '\n' ' ')
	missing=${missing% }
	[ -z "$missing" ] && return 0
	can_install "$missing"
	echo "installing: $missing" >&2
	as_root apt-get update -qq
	# sudo resets the environment, so the variable goes through env.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $missing >&2
}

# npm_ci DIR: install DIR's locked npm packages when node_modules is
# missing or was installed from another package-lock.json.
npm_ci() {
	stamp=$1/node_modules/.installed-package-lock.json
	if ! cmp -s "$1/package-lock.json" "$stamp"; then
		echo "installing npm packages in $1" >&2
		(cd "$1" && npm ci --no-audit --no-fund) >&2
		cp "$1/package-lock.json" "$stamp"
	fi
}

# build_dir NAME [MESON OPTIONS...]: configure once, then build.
build_dir() {
	dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >&2
	fi
	ninja -C "$dir" >&2
}
