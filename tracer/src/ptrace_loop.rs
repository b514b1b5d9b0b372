//! The fallback event loop, for kernels without seccomp user notification:
//! the filter's SECCOMP_RET_TRACE makes each trapped call a ptrace stop.
//! Every stop kind has its own match arm: seccomp stops carry the file
//! events (and clones asking for CLONE_UNTRACED, whose flag is cleared so no
//! child escapes); fork, vfork, clone and exec keep the working-directory
//! cache right; group-stops are parked with PTRACE_LISTEN so job control
//! works; signal-delivery stops re-inject the signal unchanged.
//!
//! The command's processes are traced, so they cannot be traced again (no
//! debugger or strace inside the job), and the loop waits for every one of
//! them, daemons included.

use crate::descendants::Exit;
use crate::observe::{Event, Observer};
use crate::ptrace::{self, Pid};
use crate::seccomp::AUDIT_ARCH_NATIVE;
use crate::signals;
use std::io;

/// Traces `root` and all its descendants until the last one has exited.
/// `after_each` runs after every trapped call, once the process runs again.
pub fn trace(
    root: Pid,
    observer: &mut Observer,
    after_each: &mut dyn FnMut(&mut Observer),
) -> io::Result<Exit> {
    let mut exit = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if pid < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => break,
                _ => return Err(err),
            }
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            observer.gone(pid);
            if pid == root {
                signals::root_gone();
                exit = Some(Exit::from_status(status));
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let mut trapped = false;
        // A call that changes nothing is recorded once the tracee runs on.
        let mut after_cont = None;
        let inject = match status >> 16 {
            libc::PTRACE_EVENT_SECCOMP => {
                if let Some(event) = on_seccomp_stop(pid, observer) {
                    trapped = true;
                    if event.changes_nothing() {
                        after_cont = Some(event);
                    } else {
                        observer.record(event);
                    }
                }
                0
            }
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                // The child starts with its parent's cwd; it reports its own
                // first stop separately (possibly before this event).
                if let Ok(child) = ptrace::event_msg(pid) {
                    observer.forked(pid, child as Pid);
                }
                0
            }
            libc::PTRACE_EVENT_EXEC => {
                // A non-leader thread that execs takes over the leader's pid;
                // its old tid vanishes without an exit report.
                if let Ok(former) = ptrace::event_msg(pid) {
                    if former as Pid != pid {
                        observer.gone(former as Pid);
                    }
                }
                0
            }
            libc::PTRACE_EVENT_EXIT => 0,
            libc::PTRACE_EVENT_STOP => {
                if matches!(
                    sig,
                    libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
                ) {
                    // Group-stop: stay stopped (Ctrl-Z works) but let us see
                    // the SIGCONT that ends it.
                    let _ = ptrace::listen(pid);
                    continue;
                }
                // The first stop of a newly attached child, or a
                // PTRACE_INTERRUPT stop: just run on.
                0
            }
            // Signal-delivery stop: deliver the signal as the kernel meant to.
            0 => sig,
            // An event we did not ask for: resume without a signal.
            _ => 0,
        };
        // ESRCH here means the tracee was killed while stopped: its exit
        // report follows.
        let _ = ptrace::cont(pid, inject);
        if let Some(event) = after_cont {
            observer.record(event);
        }
        if trapped {
            after_each(observer);
        }
    }
    exit.ok_or_else(|| io::Error::other("the command's exit status was never reported"))
}

/// Reads the call of one seccomp stop; Some if it is a file event.
fn on_seccomp_stop(pid: Pid, observer: &mut Observer) -> Option<Event> {
    let stop = ptrace::seccomp_stop(pid).ok()?;
    if stop.arch == AUDIT_ARCH_NATIVE && stop.nr == libc::SYS_clone as u64 {
        // The filter traps clone only with CLONE_UNTRACED: clear it.
        let _ = ptrace::clear_clone_untraced(pid);
        return None;
    }
    observer.read(pid, stop.arch, stop.nr, stop.args)
}
