//! Shared by the transport tests (transport_*.rs): one HTTP(S) test server and the simulated
//! device they run the real binaries against. Each test file uses a subset.
#![allow(dead_code)]

pub mod device;
pub mod http;
