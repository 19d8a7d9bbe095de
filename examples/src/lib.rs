//! Runnable programs for openbanking-rs.
