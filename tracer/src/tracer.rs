//! The event loop: waits for every stop of every traced thread and handles
//! each kind explicitly. Seccomp stops carry the file events; fork, vfork,
//! clone and exec keep the process table right; group-stops are parked with
//! PTRACE_LISTEN so job control works; signal-delivery stops re-inject the
//! signal unchanged. Nothing here blocks the tracee longer than one path
//! read and one hash-map update (except a needed pre-change snapshot).

use crate::classify::Recorder;
use crate::paths::{absolute, to_bytes};
use crate::ptrace::{self, Pid};
use crate::seccomp::AUDIT_ARCH_NATIVE;
use crate::signals;
use crate::syscalls::{self, Call};
use std::collections::HashMap;
use std::io;

/// How the command ended, as a shell reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub exit_code: i32,
    pub signal: Option<i32>,
}

struct Tracer<'a, 'h> {
    recorder: &'a mut Recorder<'h>,
    /// Cached working directory per thread, read lazily from /proc. Any
    /// chdir/fchdir by anyone clears it all (threads share a cwd through
    /// CLONE_FS; chdir is rare enough not to be clever).
    cwds: HashMap<Pid, Vec<u8>>,
    foreign_abi_seen: bool,
    unreadable: usize,
}

/// Traces `root` and all its descendants until the last one has exited.
pub fn trace(root: Pid, recorder: &mut Recorder) -> io::Result<Exit> {
    let mut tracer = Tracer {
        recorder,
        cwds: HashMap::new(),
        foreign_abi_seen: false,
        unreadable: 0,
    };
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
            tracer.cwds.remove(&pid);
            if pid == root {
                signals::root_gone();
                exit = Some(if libc::WIFEXITED(status) {
                    Exit {
                        exit_code: libc::WEXITSTATUS(status),
                        signal: None,
                    }
                } else {
                    let sig = libc::WTERMSIG(status);
                    Exit {
                        exit_code: 128 + sig,
                        signal: Some(sig),
                    }
                });
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let inject = match status >> 16 {
            libc::PTRACE_EVENT_SECCOMP => {
                tracer.on_syscall(pid);
                0
            }
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                // The child starts with its parent's cwd; it reports its own
                // first stop separately (possibly before this event).
                if let (Ok(child), Some(cwd)) =
                    (ptrace::event_msg(pid), tracer.cwds.get(&pid).cloned())
                {
                    tracer.cwds.insert(child as Pid, cwd);
                }
                0
            }
            libc::PTRACE_EVENT_EXEC => {
                // A non-leader thread that execs takes over the leader's pid;
                // its old tid vanishes without an exit report.
                if let Ok(former) = ptrace::event_msg(pid) {
                    if former as Pid != pid {
                        tracer.cwds.remove(&(former as Pid));
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
    }
    if tracer.foreign_abi_seen {
        tracer
            .recorder
            .warnings
            .push("a 32-bit (foreign ABI) process ran; its file access was not recorded".into());
    }
    if tracer.unreadable > 0 {
        tracer.recorder.warnings.push(format!(
            "{} path arguments could not be read",
            tracer.unreadable
        ));
    }
    exit.ok_or_else(|| io::Error::other("the command's exit status was never reported"))
}

fn readlink(link: String) -> Option<Vec<u8>> {
    let target = to_bytes(&std::fs::read_link(link).ok()?);
    // Anything else ("pipe:[..]", "anon_inode:..") is not a file path.
    (target.first() == Some(&b'/')).then_some(target)
}

impl Tracer<'_, '_> {
    fn cwd(&mut self, pid: Pid) -> Option<Vec<u8>> {
        if let Some(cwd) = self.cwds.get(&pid) {
            return Some(cwd.clone());
        }
        let cwd = readlink(format!("/proc/{pid}/cwd"))?;
        self.cwds.insert(pid, cwd.clone());
        Some(cwd)
    }

    /// The absolute path a (dirfd, path) pair names in the tracee.
    fn path(&mut self, pid: Pid, dirfd: i32, addr: u64) -> Option<Vec<u8>> {
        let raw = match ptrace::read_cstring(pid, addr) {
            Ok(raw) => raw,
            Err(_) => {
                self.unreadable += 1;
                return None;
            }
        };
        if raw.first() == Some(&b'/') {
            return Some(absolute(b"/", &raw));
        }
        let base = if dirfd == libc::AT_FDCWD {
            self.cwd(pid)?
        } else {
            readlink(format!("/proc/{pid}/fd/{dirfd}"))?
        };
        Some(absolute(&base, &raw))
    }

    fn on_syscall(&mut self, pid: Pid) {
        let Ok(stop) = ptrace::seccomp_stop(pid) else {
            return;
        };
        if stop.arch != AUDIT_ARCH_NATIVE {
            self.foreign_abi_seen = true;
            return;
        }
        // x32 calls share the x86_64 numbers of these syscalls.
        #[cfg(target_arch = "x86_64")]
        let nr = (stop.nr & !0x4000_0000) as i64;
        #[cfg(not(target_arch = "x86_64"))]
        let nr = stop.nr as i64;
        let Some(call) = syscalls::decode(nr, stop.args) else {
            return;
        };
        match call {
            Call::Open { dirfd, path, flags } => {
                if let Some(p) = self.path(pid, dirfd, path) {
                    self.recorder.open(p, flags);
                }
            }
            Call::Openat2 { dirfd, path, how } => {
                let flags = ptrace::read_u64(pid, how);
                if let (Some(p), Ok(flags)) = (self.path(pid, dirfd, path), flags) {
                    self.recorder.open(p, flags as i32);
                }
            }
            Call::Truncate { path } => {
                if let Some(p) = self.path(pid, libc::AT_FDCWD, path) {
                    self.recorder.truncate(p);
                }
            }
            Call::Rename {
                olddirfd,
                old,
                newdirfd,
                new,
                flags,
            } => {
                if let (Some(o), Some(n)) =
                    (self.path(pid, olddirfd, old), self.path(pid, newdirfd, new))
                {
                    self.recorder.rename(o, n, flags);
                }
            }
            Call::Link { newdirfd, new, .. } => {
                if let Some(n) = self.path(pid, newdirfd, new) {
                    self.recorder.link(n);
                }
            }
            Call::Unlink { dirfd, path, flags } => {
                if let Some(p) = self.path(pid, dirfd, path) {
                    self.recorder.unlink(p, flags);
                }
            }
            Call::Mkdir { dirfd, path } => {
                if let Some(p) = self.path(pid, dirfd, path) {
                    self.recorder.mkdir(p);
                }
            }
            Call::Mknod { dirfd, path, mode } => {
                if let Some(p) = self.path(pid, dirfd, path) {
                    self.recorder.mknod(p, mode);
                }
            }
            Call::Exec { dirfd, path, .. } => {
                // fexecve (execveat with "" and AT_EMPTY_PATH) resolves to the
                // descriptor's own path, as `path` does for an empty name.
                if let Some(p) = self.path(pid, dirfd, path) {
                    self.recorder.exec(p);
                }
            }
            Call::Chdir => self.cwds.clear(),
        }
    }
}
