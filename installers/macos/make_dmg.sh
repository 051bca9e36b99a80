#!/usr/bin/env bash
# Pack "AutoGLM Desktop.app" into a drag-to-Applications disk image (macOS, hdiutil).
#
#   installers/macos/make_dmg.sh "dist/AutoGLM Desktop.app" dist/AutoGLM-Desktop-0.1.0-macos-arm64.dmg
#
# scripts/build_bundle.py runs this on macOS. Signing and notarisation happen only when their
# environment variables are set (see SIGNING.md); without them the image is unsigned and
# Gatekeeper asks users to confirm the first start (right-click > Open).
set -euo pipefail

app="${1:?path of the .app}"
out="${2:?path of the .dmg to write}"
volume_name="AutoGLM Desktop"

if [ ! -d "$app/Contents/MacOS" ]; then
  echo "not an app bundle: $app" >&2
  exit 1
fi

if [ -n "${MACOS_CODESIGN_IDENTITY:-}" ]; then
  # PyInstaller signed every binary inside the app with this identity (build.spec); check it.
  codesign --verify --deep --strict --verbose=2 "$app"
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
ditto "$app" "$stage/$(basename "$app")"   # ditto keeps the bundle's links and attributes
ln -s /Applications "$stage/Applications"

rm -f "$out"
# ULFO (lzfse) opens on macOS 10.11 and later and is smaller than zlib's UDZO.
hdiutil create -volname "$volume_name" -srcfolder "$stage" -fs HFS+ -format ULFO -ov "$out"

if [ -n "${MACOS_CODESIGN_IDENTITY:-}" ]; then
  codesign --sign "$MACOS_CODESIGN_IDENTITY" --timestamp "$out"
fi

if [ -n "${MACOS_NOTARY_APPLE_ID:-}" ] && [ -n "${MACOS_NOTARY_TEAM_ID:-}" ] \
   && [ -n "${MACOS_NOTARY_PASSWORD:-}" ]; then
  xcrun notarytool submit "$out" --apple-id "$MACOS_NOTARY_APPLE_ID" \
    --team-id "$MACOS_NOTARY_TEAM_ID" --password "$MACOS_NOTARY_PASSWORD" --wait
  xcrun stapler staple "$out"
fi

hdiutil verify "$out"
echo "wrote $out"
