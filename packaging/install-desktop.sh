#!/usr/bin/env sh
# Put Client-Server Lab in this user's desktop menu (no root needed).
#
#   packaging/install-desktop.sh            after `make package`: copies dist/cslab/ to
#                                           ~/.local/opt/cslab and links ~/.local/bin/cslab
#   packaging/install-desktop.sh --menu-only  the menu entry and icon only (after
#                                           `pipx install .`, which made ~/.local/bin/cslab)
#
# Either way it installs the .desktop file, the icon (SVG and PNGs, hicolor theme) and the
# AppStream metadata under ${XDG_DATA_HOME:-~/.local/share}. Run it again to update.
# CSLAB_APP_DIR names another built folder than dist/cslab.
set -eu
cd "$(dirname "$0")/.."

data="${XDG_DATA_HOME:-$HOME/.local/share}"
id=io.github.clientserverlab.ClientServerLab
app="${CSLAB_APP_DIR:-dist/cslab}"

if [ "${1:-}" != "--menu-only" ]; then
  if [ ! -x "$app/cslab" ]; then
    echo "no $app/cslab: run 'make package' first (or pass --menu-only)" >&2
    exit 1
  fi
  rm -rf "$HOME/.local/opt/cslab"
  mkdir -p "$HOME/.local/opt" "$HOME/.local/bin"
  cp -r "$app" "$HOME/.local/opt/cslab"
  ln -sf "$HOME/.local/opt/cslab/cslab" "$HOME/.local/bin/cslab"
  echo "installed $HOME/.local/opt/cslab, command $HOME/.local/bin/cslab"
fi

install -Dm644 packaging/cslab.desktop "$data/applications/cslab.desktop"
install -Dm644 resources/icons/cslab.svg "$data/icons/hicolor/scalable/apps/cslab.svg"
for size in 48 128 256; do
  install -Dm644 "resources/icons/cslab-$size.png" \
    "$data/icons/hicolor/${size}x${size}/apps/cslab.png"
done
install -Dm644 "packaging/$id.metainfo.xml" "$data/metainfo/$id.metainfo.xml"
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q "$data/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data/icons/hicolor/index.theme" ]; then
  gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
fi
echo "menu entry $data/applications/cslab.desktop (runs 'cslab gui'; ~/.local/bin must be on PATH)"
