#pragma once
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (command-line flags, corpus, mutation loop) with `callback` as the
/// target. SwiftPM gives every executable its own renamed entry point, so the harnesses call
/// this from their `@main` instead of linking libFuzzer's `main`.
int tedi_fuzz_run(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));
