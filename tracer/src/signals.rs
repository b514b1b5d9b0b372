//! SIGINT/SIGTERM/SIGHUP (and SIGQUIT) reaching roar-tracer: the tracer must
//! survive them (it still has to record the job) and the command must get
//! each one exactly once. A signal from the terminal (si_code SI_KERNEL)
//! already went to the whole foreground process group, command included, so
//! it is only forwarded if the command left our process group; a signal
//! sent to the tracer alone (kill PID) is forwarded to the command.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

static ROOT: AtomicI32 = AtomicI32::new(0);
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

const HANDLED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
const SI_KERNEL: libc::c_int = 0x80;

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if sig != libc::SIGQUIT {
        INTERRUPTED.store(sig, Ordering::SeqCst);
    }
    let root = ROOT.load(Ordering::SeqCst);
    if root <= 0 {
        return;
    }
    // SAFETY: reading the siginfo the kernel passed; getpgid, getpgrp and
    // kill are async-signal-safe.
    unsafe {
        let from_terminal = !info.is_null() && (*info).si_code == SI_KERNEL;
        if from_terminal && libc::getpgid(root) == libc::getpgrp() {
            return;
        }
        libc::kill(root, sig);
    }
}

/// Installs the handlers (without SA_RESTART, so a blocked waitpid returns).
pub fn install() -> io::Result<()> {
    for sig in HANDLED {
        // SAFETY: a zeroed sigaction is valid; we fill handler and flags.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Restores default dispositions; called in the forked child before exec so
/// the command never runs with our handler, even for an instant.
pub fn reset_in_child() {
    for sig in HANDLED {
        // SAFETY: async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

pub fn set_root(pid: libc::pid_t) {
    ROOT.store(pid, Ordering::SeqCst);
}

/// Called as soon as the command is reaped: its pid may be reused.
pub fn root_gone() {
    ROOT.store(0, Ordering::SeqCst);
}

/// The last of SIGINT/SIGTERM/SIGHUP that reached the tracer, if any.
pub fn interruption() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}
