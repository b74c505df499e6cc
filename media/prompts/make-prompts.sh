#!/usr/bin/env bash
# Regenerates every prompt and the music on hold in this folder: 8 kHz, mono, 16-bit PCM WAV.
# Needs espeak-ng and sox (Debian: apt-get install espeak-ng sox). Deterministic for a given
# espeak-ng/sox version; the outputs are committed, so this only runs when a prompt changes.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# speak NAME "TEXT": espeak-ng (US English, 150 wpm) -> 8 kHz mono 16-bit, peak at -3 dBFS,
# band-limited to the telephone band so G.711 does not alias it.
speak() {
  espeak-ng -v en-us -s 150 -w "$tmp/$1.wav" "$2"
  sox "$tmp/$1.wav" -r 8000 -c 1 -b 16 -e signed-integer "$1.wav" \
    highpass 200 lowpass 3400 gain -n -3
}

speak greeting "Thank you for calling. For sales, press 1. For support, press 2."
speak all-agents-busy "All of our agents are busy. Please hold, and the next available agent will be with you shortly."
speak closed "We are closed. Our opening hours are Monday to Friday, nine A M to five P M. Please call again."
speak you-are-caller "You are caller number"
for n in 1 2 3 4 5 6 7 8 9; do
  speak "number-$n" "$n"
done
speak goodbye "Thank you. Goodbye."

# Music on hold: a plucked I-vi-IV-V progression in C, then I-vi-ii-V, 1.5 s per strum, each
# chord strummed twice: 16 strums = 24 s. Every strum ends with a 20 ms fade, and the piece
# ends on a decayed G chord that resolves into the opening C, so the loop is seamless.
strum() { # strum OUT NOTE...
  local out=$1; shift
  local spec=()
  for note in "$@"; do spec+=(pluck "$note"); done
  sox -n -r 8000 -c "$#" -b 16 "$tmp/$out.raw.wav" synth 1.5 "${spec[@]}"
  sox "$tmp/$out.raw.wav" -c 1 "$tmp/$out.wav" remix - fade t 0.005 1.5 0.02
}
strum C C3 C4 E4 G4
strum Am A2 A3 C4 E4
strum F F2 F3 A3 C4
strum G G2 G3 B3 D4
strum Dm D3 D4 F4 A4
parts=()
for chord in C Am F G C Am Dm G; do
  parts+=("$tmp/$chord.wav" "$tmp/$chord.wav")
done
sox "${parts[@]}" -r 8000 -c 1 -b 16 -e signed-integer music-on-hold.wav gain -n -6
