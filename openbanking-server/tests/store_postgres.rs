//! The PostgreSQL stores (feature `postgres`): every conformance kit, in a fresh schema per run.
