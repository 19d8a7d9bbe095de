//! The account-access-consents API (being written).
