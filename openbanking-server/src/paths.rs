//! The paths the authorization server and the Open Banking APIs serve: the constants of
//! [`openbanking_core::wire::paths`], shared with clients. The metadata document (RFC 8414) is
//! built from these same constants, so discovery can't drift from the routes.

pub use openbanking_core::wire::paths::*;
