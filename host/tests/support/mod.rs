//! Shared by the transport and agent tests: one HTTP(S) test server, the simulated
//! device they run the real binaries against, a try-each envelope. Each file uses a subset.
#![allow(dead_code)]

pub mod device;
pub mod http;
pub mod tryeach;
