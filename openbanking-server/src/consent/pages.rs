//! The PSU pages (being written).
