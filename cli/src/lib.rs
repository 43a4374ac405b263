//! The parts of the `cordon` command that other crates build on: reading identifier files
//! (one value per line, CSV, JSON Lines, person records) into rows. The fuzz targets
//! (`fuzz/`) read import files through it exactly as `cordon data import` does.
//!
//! Everything else of the command (argument parsing, talking to nodes, output) lives in the
//! binary; this library deliberately does not grow into a client API.

pub mod input;
