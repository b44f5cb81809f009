//! Foreign-language bindings for Trellis (UniFFI). Filled in by the bindings work.
