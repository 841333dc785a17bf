//! Fuzz targets of the policy core: shared checks and input builders.

pub mod bytes;
pub mod checks;
pub mod harness;
pub mod json;
pub mod seeds;
pub mod tree;
