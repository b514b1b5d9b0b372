//! The event loop of seccomp user notification (Linux 5.5+, the default):
//! each trapped call arrives on the listener fd while the kernel holds only
//! the calling thread; we read its paths from /proc and its memory, record
//! it, and answer SECCOMP_USER_NOTIF_FLAG_CONTINUE, which lets the kernel
//! run the call as if nothing had intervened. No process is ptraced, so the
//! command may itself use ptrace (strace, gdb, py-spy, LeakSanitizer).
//!
//! What notifications do not say, and how we know it instead:
//! - results of calls: not needed; classification is from flags and the
//!   state of the filesystem at the end (docs/tracer.md), as with ptrace;
//! - process lifetimes: the tracer is a child subreaper, so `waitpid`
//!   reports every descendant that ends with no parent left to reap it, and
//!   ECHILD means none is left (a SIGCHLD self-pipe wakes the loop);
//! - forks and working directories: not reported, so a relative path is
//!   resolved against /proc/<pid>/cwd read at that call;
//! - reused pids: SECCOMP_IOCTL_NOTIF_ID_VALID after reading, before
//!   recording.

use crate::descendants::{self, Exit};
use crate::observe::Observer;
use crate::ptrace::Pid;
use crate::signals;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// How often, once the command has exited, the processes it left are
/// checked for having detached themselves.
const DETACH_CHECK_MS: i32 = 50;

/// The end of a supervised run.
pub enum Outcome {
    /// The command and everything still attached to it have ended. `let_go`
    /// are the processes that detached themselves and still run (their
    /// trapped calls must go on being answered: see `keep_answering`).
    Ended { exit: Exit, let_go: Vec<Pid> },
    /// This kernel cannot let a notified call continue (before 5.5): the
    /// command was killed before it ran; use the ptrace fallback.
    NoContinue,
}

fn ioctl<T>(fd: RawFd, request: libc::c_ulong, arg: *mut T) -> io::Result<()> {
    // SAFETY: `arg` points at a live value of the type the request expects.
    if unsafe { libc::ioctl(fd, request as _, arg) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn receive(listener: RawFd) -> io::Result<libc::seccomp_notif> {
    // SAFETY: the kernel requires a zeroed struct; zero is valid for it.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut notif)?;
    Ok(notif)
}

fn still_valid(listener: RawFd, id: u64) -> bool {
    let mut id = id;
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _, &mut id).is_ok()
}

fn answer_continue(listener: RawFd, id: u64) -> io::Result<()> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp)
}

/// SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): the waiting thread and
/// the tracer hand the CPU to each other directly, instead of each wake-up
/// going through the scheduler's choice of CPU. Older kernels refuse it;
/// nothing else changes then.
fn sync_wake_up(listener: RawFd) {
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    let mut flags = SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
    let _ = ioctl(
        listener,
        libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS as _,
        &mut flags,
    );
}

fn wake_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn drain(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reading into a local buffer from a non-blocking pipe.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Serves the listener until `root` and every process still attached to it
/// have ended. `after_each` runs after every recorded call, once the
/// process runs again.
pub fn supervise(
    root: Pid,
    listener: &OwnedFd,
    observer: &mut Observer,
    after_each: &mut dyn FnMut(&mut Observer),
) -> io::Result<Outcome> {
    let listener = listener.as_raw_fd();
    sync_wake_up(listener);
    let (wake_read, wake_write) = wake_pipe()?;
    // Dropped (handler gone) before the pipe closes: declared after it.
    let _notices = signals::notify_children_on(wake_write.as_raw_fd())?;
    let mut exit = None;
    let mut answered = false;
    let mut listening = true;
    // Something may have ended (SIGCHLD, or not yet looked): reap.
    let mut reap = true;
    // Once the command has exited: after a reap, or a quiet DETACH_CHECK_MS,
    // see whether only detached processes are left.
    let mut look_for_detached = true;
    loop {
        // Reap whatever ended: the command, and orphans reparented to us.
        while std::mem::take(&mut reap) {
            let mut status = 0;
            // SAFETY: waitpid writes one int.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
            if pid > 0 {
                if pid == root {
                    signals::root_gone();
                    exit = Some(Exit::from_status(status));
                }
                reap = true;
                look_for_detached = true;
                continue;
            }
            if pid == 0 {
                break;
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => reap = true,
                Some(libc::ECHILD) => {
                    let exit = exit.ok_or_else(|| {
                        io::Error::other("the command's exit status was never reported")
                    })?;
                    return Ok(Outcome::Ended {
                        exit,
                        let_go: Vec::new(),
                    });
                }
                _ => return Err(io::Error::last_os_error()),
            }
        }
        if let Some(exit) = exit.filter(|_| std::mem::take(&mut look_for_detached)) {
            if let Some(let_go) =
                descendants::remaining().and_then(|r| descendants::all_detached(&r))
            {
                return Ok(Outcome::Ended { exit, let_go });
            }
        }
        let mut fds = [
            libc::pollfd {
                fd: if listening { listener } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake_read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = if exit.is_some() { DETACH_CHECK_MS } else { -1 };
        // SAFETY: `fds` is a live array of two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            look_for_detached = true;
        }
        if fds[1].revents != 0 {
            drain(wake_read.as_raw_fd());
            reap = true;
        }
        let ready = fds[0].revents;
        if ready & libc::POLLIN == 0 {
            if ready & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                // No process uses the filter any more: waitpid says the rest.
                listening = false;
            }
            continue;
        }
        let notif = match receive(listener) {
            Ok(n) => n,
            // Interrupted, or the caller died before we read it.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ENOENT)) => continue,
            Err(e) => return Err(e),
        };
        let pid = notif.pid as Pid;
        let event = observer.read(pid, notif.data.arch, notif.data.nr as u64, notif.data.args);
        let event = event.filter(|_| still_valid(listener, notif.id));
        let recorded = event.is_some();
        // A call that changes nothing is recorded once the caller runs on.
        let (now, after_answer) = match event {
            Some(e) if e.changes_nothing() => (None, Some(e)),
            e => (e, None),
        };
        if let Some(event) = now {
            observer.record(event);
        }
        match answer_continue(listener, notif.id) {
            Ok(()) => answered = true,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && !answered => {
                // SAFETY: killing and reaping our own child, which waits in
                // its first exec and has run nothing of the command.
                unsafe {
                    libc::kill(root, libc::SIGKILL);
                    libc::waitpid(root, std::ptr::null_mut(), libc::__WALL);
                }
                signals::root_gone();
                return Ok(Outcome::NoContinue);
            }
            // ENOENT: the caller was killed while waiting.
            Err(_) => {}
        }
        if let Some(event) = after_answer {
            observer.record(event);
        }
        if recorded {
            after_each(observer);
        }
    }
}

/// Forks a process that goes on answering `listener` with CONTINUE, so the
/// processes let go (`let_go`) never see a trapped call fail for want of a
/// listener, and returns at once. It leaves our session and holds none of
/// our descriptors; it exits when no process uses the filter any more (the
/// listener reports POLLHUP, Linux 5.11+), or, on older kernels, when none
/// of `let_go` is alive. The child makes only async-signal-safe calls: the
/// tracer may have threads by now.
pub fn keep_answering(listener: OwnedFd, let_go: &[Pid]) -> io::Result<()> {
    let mut watched = [0 as Pid; 64];
    let count = let_go.len().min(watched.len());
    watched[..count].copy_from_slice(&let_go[..count]);
    let fd = listener.as_raw_fd();
    // SAFETY: the child below calls only async-signal-safe functions and
    // ends with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        return Ok(()); // our copy of the listener closes as `listener` drops
    }
    // SAFETY: async-signal-safe calls on our own fds and dispositions.
    unsafe {
        libc::setsid();
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP && sig != libc::SIGCHLD {
                libc::signal(sig, libc::SIG_IGN);
            }
        }
        for other in 0..fd {
            libc::close(other);
        }
        if libc::syscall(libc::SYS_close_range, fd + 1, u32::MAX, 0) != 0 {
            for other in fd + 1..4096 {
                libc::close(other);
            }
        }
        libc::prctl(libc::PR_SET_NAME, c"roar-keeper".as_ptr(), 0, 0, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null == 0 {
            libc::dup2(0, 1);
            libc::dup2(0, 2);
        }
        loop {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            let n = libc::poll(&mut pfd, 1, 10_000);
            if n == 0 {
                let alive = watched[..count].iter().any(|&p| libc::kill(p, 0) == 0);
                if !alive {
                    libc::_exit(0);
                }
                continue;
            }
            if n < 0 {
                continue;
            }
            if pfd.revents & libc::POLLIN != 0 {
                let mut notif: libc::seccomp_notif = std::mem::zeroed();
                if libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV as _, &mut notif) == 0 {
                    let mut resp = libc::seccomp_notif_resp {
                        id: notif.id,
                        val: 0,
                        error: 0,
                        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
                    };
                    libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND as _, &mut resp);
                }
            } else if pfd.revents != 0 {
                libc::_exit(0);
            }
        }
    }
}
