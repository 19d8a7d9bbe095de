//! The gateway guard. (Being written.)
