//! Behaviour through the public API and the binary (one test binary, one link).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail by panicking"
)]

mod access_model;
mod audit;
mod backup;
mod cli;
mod cli_contract;
mod cli_gate;
mod clock;
mod common;
mod compat;
mod counts;
mod crash;
mod damaged;
mod decisions;
mod faults;
mod gate;
mod gate_model;
mod gate_totp;
mod hardening;
mod load;
mod modules;
mod moto;
mod records;
mod remote;
mod trash;
mod trash_model;
