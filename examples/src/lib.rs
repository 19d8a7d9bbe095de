//! Runnable programs for openbanking-rs, and the sandbox bank they share.
#![forbid(unsafe_code)]

pub mod demo;
pub mod hub;
pub mod portal;
pub mod sandbox;

/// The README's code blocks, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
