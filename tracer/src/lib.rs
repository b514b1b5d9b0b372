//! roar-tracer: runs a command under a seccomp filter (user notification,
//! or ptrace as the fallback), records what it read and wrote by BLAKE3
//! content hash, and writes the job object into the roar store. `main.rs`
//! only parses arguments; `run` drives the rest.

pub mod classify;
pub mod config;
pub mod context;
pub mod descendants;
pub mod early;
pub mod env_snapshot;
pub mod filters;
pub mod front;
pub mod git_state;
pub mod gpu;
pub mod hash;
pub mod hash_cache;
pub mod interpreters;
pub mod job;
pub mod labels;
pub mod memory;
pub mod notify;
pub mod object;
pub mod observe;
pub mod packages;
pub mod paths;
pub mod plumbing;
pub mod preflight;
pub mod process;
pub mod program;
pub mod ptrace;
pub mod ptrace_loop;
pub mod report;
pub mod run;
pub mod seccomp;
pub mod secrets;
pub mod session;
pub mod signals;
pub mod store;
pub mod syscalls;
pub mod tree;
pub mod workspace;
