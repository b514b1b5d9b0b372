//! The command's processes as the tracer knows them without ptrace: the
//! tracer is a child subreaper, so every descendant stays below it (an
//! orphan is reparented to it, not to init), `waitpid` reports when the last
//! one has ended, and /proc lists who is still running. After the command
//! itself has exited, the ones still running are waited for, except those
//! that detached themselves: a new session, and standard streams that are
//! no longer the command's.

use crate::ptrace::Pid;
use std::collections::HashSet;
use std::io;

/// How the command ended, as a shell reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub exit_code: i32,
    pub signal: Option<i32>,
}

impl Exit {
    /// From a `waitpid` status of an exited or killed process.
    pub fn from_status(status: i32) -> Exit {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            Exit {
                exit_code: 128 + sig,
                signal: Some(sig),
            }
        } else {
            Exit {
                exit_code: libc::WEXITSTATUS(status),
                signal: None,
            }
        }
    }
}

/// Makes orphaned descendants of this process its children, so they can be
/// waited for.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: plain prctl.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The children of `pid`; None if /proc cannot say (a kernel without
/// CONFIG_PROC_CHILDREN, or the process is gone).
fn children_of(pid: Pid) -> Option<Vec<Pid>> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let text = std::fs::read_to_string(task.path().join("children")).ok()?;
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<Pid>().ok()),
        );
    }
    Some(out)
}

/// A process still running after the command exited.
#[derive(Debug, Clone)]
pub struct Remaining {
    pub pid: Pid,
    pub parent: Pid,
    pub detached: bool,
}

/// Every live descendant of this process, parents before children; None
/// if /proc cannot list children here (then nothing can be let go).
pub fn remaining() -> Option<Vec<Remaining>> {
    // SAFETY: getpid and getsid(0) cannot fail.
    let (me, sid) = unsafe { (libc::getpid(), libc::getsid(0)) };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut queue: Vec<(Pid, Pid)> = children_of(me)?.into_iter().map(|c| (c, me)).collect();
    while let Some((pid, parent)) = queue.pop() {
        if !seen.insert(pid) {
            continue;
        }
        // A process that ended meanwhile has no children left to list.
        let children = children_of(pid).unwrap_or_default();
        queue.extend(children.into_iter().map(|c| (c, pid)));
        out.push(Remaining {
            pid,
            parent,
            detached: detached(pid, sid),
        });
    }
    Some(out)
}

/// The processes to let go if every remaining one detached itself (the
/// topmost of each detached subtree); None while any is still attached.
pub fn all_detached(remaining: &[Remaining]) -> Option<Vec<Pid>> {
    if remaining.iter().any(|r| !r.detached) {
        return None;
    }
    let pids: HashSet<Pid> = remaining.iter().map(|r| r.pid).collect();
    Some(
        remaining
            .iter()
            .filter(|r| !pids.contains(&r.parent))
            .map(|r| r.pid)
            .collect(),
    )
}

const KCMP_FILE: libc::c_int = 0;

/// True if `pid` left the command's session and holds none of its standard
/// streams (the open files, not just the same device: a fresh /dev/null is
/// not the command's /dev/null).
fn detached(pid: Pid, session: Pid) -> bool {
    // SAFETY: getsid has no memory arguments.
    let sid = unsafe { libc::getsid(pid) };
    if sid < 0 || sid == session {
        return false;
    }
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    for ours in 0..3 {
        // SAFETY: fcntl on our own fd number only queries it.
        if unsafe { libc::fcntl(ours, libc::F_GETFD) } < 0 {
            continue; // we were started without this stream
        }
        for theirs in 0..3 {
            if shares_file(me, ours, pid, theirs) {
                return false;
            }
        }
    }
    true
}

/// Do fd `a` of process `pa` and fd `b` of `pb` refer to one open file?
fn shares_file(pa: Pid, a: i32, pb: Pid, b: i32) -> bool {
    // SAFETY: kcmp takes no pointers for KCMP_FILE.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, pa, pb, KCMP_FILE, a, b) };
    if r >= 0 {
        return r == 0;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EBADF) => false, // not open there
        _ => {
            // No kcmp (kernel without CONFIG_KCMP): the same object is the
            // best we can tell; erring towards "attached" only means waiting.
            let link = |p: Pid, fd: i32| std::fs::read_link(format!("/proc/{p}/fd/{fd}")).ok();
            matches!((link(pa, a), link(pb, b)), (Some(x), Some(y)) if x == y)
        }
    }
}

/// A process's command line for a message, control characters escaped,
/// cut to a readable length.
pub fn describe(pid: Pid) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).escape_debug().to_string())
        .collect();
    let mut text = words.join(" ");
    if text.is_empty() {
        text = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim().escape_debug().to_string())
            .unwrap_or_else(|_| "?".into());
    }
    if text.chars().count() > 120 {
        text = text.chars().take(117).collect::<String>() + "...";
    }
    format!("{pid} ({text})")
}
