//! PSU authentication (being written).
