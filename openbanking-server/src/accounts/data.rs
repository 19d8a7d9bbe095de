//! Account data (being written).
