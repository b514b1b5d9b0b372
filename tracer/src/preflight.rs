//! `roar-tracer --preflight`: can this machine trace? Runs the real
//! mechanism on a throwaway child (seize, seccomp filter, one trapped
//! syscall read back with PTRACE_GET_SYSCALL_INFO) rather than guessing
//! from kernel versions and sysctls.

use crate::ptrace;
use crate::seccomp::Filter;
use serde_json::json;
use std::io;

pub struct Preflight {
    pub ptrace: bool,
    pub seccomp: bool,
    pub kernel: String,
    pub arch: String,
    pub problems: Vec<String>,
}

impl Preflight {
    pub fn ready(&self) -> bool {
        self.ptrace && self.seccomp
    }

    pub fn json(&self) -> String {
        json!({
            "ready": self.ready(),
            "ptrace": self.ptrace,
            "seccomp": self.seccomp,
            "kernel": self.kernel,
            "arch": self.arch,
            "problems": self.problems,
        })
        .to_string()
    }

    pub fn text(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let mut out = format!(
            "ready:   {}\nptrace:  {}\nseccomp: {}\nkernel:  {}\narch:    {}\n",
            yes(self.ready()),
            yes(self.ptrace),
            yes(self.seccomp),
            self.kernel,
            self.arch
        );
        for p in &self.problems {
            out.push_str(&format!("problem: {p}\n"));
        }
        out
    }
}

fn kernel_release() -> String {
    // SAFETY: uname fills a zeroed struct; release is NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// The one syscall the probe child traps: openat of "/".
const PROBE_PATH: &[u8] = b"/\0";

pub fn check() -> Preflight {
    let mut result = Preflight {
        ptrace: false,
        seccomp: false,
        kernel: kernel_release(),
        arch: std::env::consts::ARCH.into(),
        problems: Vec::new(),
    };
    if let Err(e) = probe(&mut result) {
        result.problems.push(format!("probe failed: {e}"));
    }
    result
}

fn probe(result: &mut Preflight) -> io::Result<()> {
    let filter = Filter::new(&[libc::SYS_openat]);
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (go_read, go_write) = (fds[0], fds[1]);
    // SAFETY: single-threaded fork; the child makes only async-signal-safe
    // calls and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls only.
        unsafe {
            let mut b = 0u8;
            libc::close(go_write);
            if libc::read(go_read, (&mut b as *mut u8).cast(), 1) != 1 {
                libc::_exit(2);
            }
            if filter.install().is_err() {
                libc::_exit(3);
            }
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                PROBE_PATH.as_ptr(),
                libc::O_RDONLY,
            );
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the read end.
    unsafe { libc::close(go_read) };
    match ptrace::seize(pid) {
        Ok(()) => result.ptrace = true,
        Err(e) => result.problems.push(format!(
            "ptrace(PTRACE_SEIZE) failed: {e} (a container without CAP_SYS_PTRACE, a seccomp profile that blocks ptrace, or kernel.yama.ptrace_scope=3)"
        )),
    }
    // SAFETY: writing one byte, then closing; the child exits either way.
    unsafe {
        libc::write(go_write, [1u8].as_ptr().cast(), 1);
        libc::close(go_write);
    }
    let mut saw_seccomp_stop = false;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(err);
        }
        if libc::WIFEXITED(status) {
            match libc::WEXITSTATUS(status) {
                0 => {}
                3 => result.problems.push("installing a seccomp filter failed (kernel without CONFIG_SECCOMP_FILTER, or blocked)".into()),
                code => result.problems.push(format!("probe child exited with {code}")),
            }
            break;
        }
        if libc::WIFSIGNALED(status) {
            result.problems.push(format!(
                "probe child killed by signal {}",
                libc::WTERMSIG(status)
            ));
            break;
        }
        if libc::WIFSTOPPED(status) {
            let mut inject = 0;
            match status >> 16 {
                libc::PTRACE_EVENT_SECCOMP => match ptrace::seccomp_stop(pid) {
                    Ok(stop) if stop.nr == libc::SYS_openat as u64 => saw_seccomp_stop = true,
                    Ok(_) => result
                        .problems
                        .push("seccomp stop reported the wrong syscall".into()),
                    Err(e) => result.problems.push(format!(
                        "PTRACE_GET_SYSCALL_INFO failed: {e} (needs Linux 5.3+)"
                    )),
                },
                0 => inject = libc::WSTOPSIG(status),
                _ => {}
            }
            let _ = ptrace::cont(pid, inject);
        }
    }
    result.seccomp = saw_seccomp_stop;
    if result.ptrace && !saw_seccomp_stop && result.problems.is_empty() {
        result
            .problems
            .push("the seccomp filter never stopped the probe in the tracer".into());
    }
    Ok(())
}
