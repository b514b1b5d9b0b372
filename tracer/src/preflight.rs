//! `roar-tracer --preflight`: can this machine observe a command, and how?
//! Runs each real mechanism on a throwaway child (the filter installed as
//! `run` installs it, one trapped `openat` received and let through) rather
//! than guessing from kernel versions and sysctls, and says what the
//! mechanism means for debuggers and setuid programs inside a job.

use crate::process;
use crate::ptrace;
use crate::run::Mechanism;
use crate::seccomp::{self, Filter, Trap};
use serde_json::json;
use std::io;
use std::os::fd::AsRawFd;

pub struct Preflight {
    /// What the caller asked for (`ROAR_TRACER_MECHANISM`).
    pub wanted: Mechanism,
    /// seccomp user notification works, calls continuing (Linux 5.5+).
    pub notify: bool,
    /// PTRACE_SEIZE of a child works.
    pub ptrace: bool,
    /// A SECCOMP_RET_TRACE filter stopped the child in the tracer.
    pub seccomp: bool,
    /// Filters go in without no_new_privs (CAP_SYS_ADMIN).
    pub privileged: bool,
    pub kernel: String,
    pub arch: String,
    pub problems: Vec<String>,
}

impl Preflight {
    pub fn ready(&self) -> bool {
        self.mechanism().is_some()
    }

    /// The mechanism `run` uses here, as asked.
    pub fn mechanism(&self) -> Option<&'static str> {
        let ptrace = self.ptrace && self.seccomp;
        match self.wanted {
            Mechanism::Auto if self.notify => Some("notify"),
            Mechanism::Auto | Mechanism::Ptrace if ptrace => Some("ptrace"),
            Mechanism::Notify if self.notify => Some("notify"),
            _ => None,
        }
    }

    /// What the mechanism means for programs that use ptrace themselves.
    pub fn debuggers(&self) -> &'static str {
        match self.mechanism() {
            Some("notify") => "work inside roar run (strace, gdb, py-spy, sanitizers): the command is not ptraced; a nested strace --seccomp-bpf misses the calls roar traps",
            Some(_) => "cannot run inside roar run (strace, gdb, py-spy fail to attach): the command is ptraced by roar; Linux 5.5+ lifts this",
            None => "roar cannot trace on this machine",
        }
    }

    /// What it means for setuid and setcap programs.
    pub fn setuid(&self) -> &'static str {
        if self.privileged {
            "keep their privileges: roar runs with CAP_SYS_ADMIN and installs its filter without no_new_privs"
        } else {
            "run without their privileges (no_new_privs), and roar warns when one starts; run roar as root or with CAP_SYS_ADMIN to keep them"
        }
    }

    pub fn json(&self) -> String {
        self.value().to_string()
    }

    pub fn value(&self) -> serde_json::Value {
        json!({
            "ready": self.ready(),
            "mechanism": self.mechanism(),
            "notify": self.notify,
            "ptrace": self.ptrace,
            "seccomp": self.seccomp,
            "privileged": self.privileged,
            "debuggers": self.debuggers(),
            "setuid": self.setuid(),
            "kernel": self.kernel,
            "arch": self.arch,
            "problems": self.problems,
        })
    }

    pub fn text(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let mut out = format!(
            "ready:     {}\nmechanism: {}\nnotify:    {}\nptrace:    {}\nseccomp:   {}\nkernel:    {}\narch:      {}\ndebuggers: {}\nsetuid:    {}\n",
            yes(self.ready()),
            self.mechanism().unwrap_or("none"),
            yes(self.notify),
            yes(self.ptrace),
            yes(self.seccomp),
            self.kernel,
            self.arch,
            self.debuggers(),
            self.setuid(),
        );
        for p in &self.problems {
            out.push_str(&format!("problem:   {p}\n"));
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

pub fn check(wanted: Mechanism) -> Preflight {
    let mut result = Preflight {
        wanted,
        notify: false,
        ptrace: false,
        seccomp: false,
        privileged: seccomp::can_keep_privileges(),
        kernel: kernel_release(),
        arch: std::env::consts::ARCH.into(),
        problems: Vec::new(),
    };
    if !seccomp::user_notif_available() {
        result.problems.push(
            "seccomp user notification is not available (Linux 5.0+); using the ptrace fallback"
                .into(),
        );
    } else if let Err(e) = probe_notify(&mut result) {
        result
            .problems
            .push(format!("user notification probe failed: {e}"));
    }
    if let Err(e) = probe_ptrace(&mut result) {
        result.problems.push(format!("ptrace probe failed: {e}"));
    }
    result
}

/// Forks a child that waits for a byte on `go` (if given), installs
/// `filter`, sends the listener over `sock` (if any), opens "/" and exits 0.
fn probe_child(filter: &Filter, keep: bool, go: Option<i32>, sock: Option<i32>) -> io::Result<i32> {
    // SAFETY: the child makes only async-signal-safe calls and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(pid);
    }
    // SAFETY: async-signal-safe calls only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if let Some(go) = go {
            let mut b = 0u8;
            if libc::read(go, (&mut b as *mut u8).cast(), 1) != 1 {
                libc::_exit(2);
            }
        }
        match filter.install(keep) {
            Ok(Some(listener)) => {
                if let Some(sock) = sock {
                    if process::send_fd(sock, listener).is_err() {
                        libc::_exit(4);
                    }
                }
                libc::close(listener);
            }
            Ok(None) => {}
            Err(_) => libc::_exit(3),
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

fn reap(pid: i32, result: &mut Preflight) -> io::Result<bool> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes one int.
        if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } >= 0 {
            break;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(io::Error::last_os_error());
        }
    }
    if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => return Ok(true),
            3 => result.problems.push("installing a seccomp filter failed (kernel without CONFIG_SECCOMP_FILTER, or blocked)".into()),
            code => result.problems.push(format!("probe child exited with {code}")),
        }
    } else if libc::WIFSIGNALED(status) {
        result.problems.push(format!(
            "probe child killed by signal {}",
            libc::WTERMSIG(status)
        ));
    }
    Ok(false)
}

fn probe_notify(result: &mut Preflight) -> io::Result<()> {
    let filter = Filter::new(&[libc::SYS_openat], Trap::Notify);
    let (ours, theirs) = process::socketpair()?;
    let pid = probe_child(&filter, result.privileged, None, Some(theirs.as_raw_fd()))?;
    drop(theirs);
    let listener = match process::recv_fd(ours.as_raw_fd()) {
        Ok(Some(fd)) => fd,
        other => {
            reap(pid, result)?;
            if let Err(e) = other {
                result
                    .problems
                    .push(format!("receiving the listener failed: {e}"));
            }
            return Ok(());
        }
    };
    // SAFETY: a zeroed notification is what RECV expects.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the listener is ours; RECV writes one seccomp_notif.
    let received = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV as _,
            &mut notif,
        )
    } == 0;
    let mut continued = false;
    if received && notif.data.nr as i64 == libc::SYS_openat {
        let mut resp = libc::seccomp_notif_resp {
            id: notif.id,
            val: 0,
            error: 0,
            flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        };
        // SAFETY: SEND reads one seccomp_notif_resp.
        continued = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                &mut resp,
            )
        } == 0;
        if !continued {
            result.problems.push(format!(
                "the kernel cannot let a notified call continue ({}; Linux 5.5+ needed): using the ptrace fallback",
                io::Error::last_os_error()
            ));
            // SAFETY: killing our own probe child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    } else {
        result
            .problems
            .push("the listener did not report the probe's openat".into());
        // SAFETY: killing our own probe child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let exited_ok = reap(pid, result)?;
    result.notify = continued && exited_ok;
    Ok(())
}

fn probe_ptrace(result: &mut Preflight) -> io::Result<()> {
    let filter = Filter::new(&[libc::SYS_openat], Trap::Ptrace);
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (go_read, go_write) = (fds[0], fds[1]);
    let pid = probe_child(&filter, result.privileged, Some(go_read), None);
    // SAFETY: closing our copy of the read end.
    unsafe { libc::close(go_read) };
    let pid = match pid {
        Ok(pid) => pid,
        Err(e) => {
            // SAFETY: closing our fd.
            unsafe { libc::close(go_write) };
            return Err(e);
        }
    };
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
                code => result.problems.push(format!("ptrace probe child exited with {code}")),
            }
            break;
        }
        if libc::WIFSIGNALED(status) {
            result.problems.push(format!(
                "ptrace probe child killed by signal {}",
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
