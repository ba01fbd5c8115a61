#!/usr/bin/env bash
# The large-vocabulary text of the README's table ("A large vocabulary"): Debian's fortunes-zh
# "chinese" file (967,365 characters, 5,965 distinct once its ANSI colour codes are stripped),
# written to ${1:-runs/zh.txt}. Needs apt-get (it downloads the package; nothing is installed).
set -euo pipefail
out=${1:-runs/zh.txt}
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download fortunes-zh >/dev/null && dpkg -x fortunes-zh_*.deb x)
mkdir -p "$(dirname "$out")"
sed 's/\x1b\[[0-9;]*m//g' "$tmp/x/usr/share/games/fortunes/chinese" > "$out"
rm -rf "$tmp"
echo "$out: $(wc -m < "$out") characters"
