#!/usr/bin/env bash
# Sourced by the scripts that run what cargo built: sets TARGET to cargo's own target directory
# (CARGO_TARGET_DIR, a config's build.target-dir, or ./target), as `cargo metadata` says.
TARGET=$(cargo metadata --locked --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export TARGET
