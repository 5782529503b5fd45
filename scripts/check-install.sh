#!/usr/bin/env bash
# The installed binary is self-contained: `cargo install --path .` into a scratch root, the binary
# copied to another folder, then `images build` from an empty folder with no LOCALKUBE_IMAGES_DIR
# finds the embedded image definitions and the cache current ("nothing rebuilt").
#
# Not part of scripts/test.sh: `cargo install` resolves features without the test dependencies,
# so it is a second full compile (minutes) for what tests/suite/distribute.rs checks with a copy of
# the tested binary. Run it after changing build.rs or how the definitions are found.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Its own target folder, kept between runs so a second check is quick.
CARGO_TARGET_DIR=$PWD/target/install \
    cargo install --locked --debug --path . --root "$scratch/root"
mkdir -p "$scratch/elsewhere" "$scratch/empty"
cp "$scratch/root/bin/localkube" "$scratch/elsewhere/localkube"
cd "$scratch/empty"
unset LOCALKUBE_IMAGES_DIR
out=$("$scratch/elsewhere/localkube" images build 2>&1) || { echo "$out" >&2; exit 1; }
echo "$out" | tail -n 3
if echo "$out" | grep -q "nothing rebuilt"; then
  echo "check-install: the installed copy built from an empty folder with the embedded definitions"
else
  echo "check-install: the installed copy rebuilt images: its build keys differ from the checkout's" >&2
  exit 1
fi
