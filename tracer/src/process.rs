//! Starting the command: resolve it on PATH (so "not found" is known before
//! anything runs), fork, let the tracer seize the child, and only then let
//! the child install the seccomp filter and exec. The child waits on a pipe
//! until it is seized, so it can never run untraced; a second close-on-exec
//! pipe carries the errno of a failed exec back to the tracer.

use crate::ptrace::{self, Pid};
use crate::seccomp::Filter;
use crate::signals;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why the command cannot be started, with the exit code a shell would use.
#[derive(Debug)]
pub enum LaunchError {
    NotFound,
    NotExecutable,
}

impl LaunchError {
    pub fn exit_code(&self) -> i32 {
        match self {
            LaunchError::NotFound => 127,
            LaunchError::NotExecutable => 126,
        }
    }
}

fn executable(path: &Path) -> Option<bool> {
    let meta = std::fs::metadata(path).ok()?;
    Some(meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Finds `name` as execvp would: as given if it contains a slash, else the
/// first executable match on PATH.
pub fn resolve(name: &OsStr) -> Result<PathBuf, LaunchError> {
    if name.is_empty() {
        return Err(LaunchError::NotFound);
    }
    if name.as_bytes().contains(&b'/') {
        return match executable(Path::new(name)) {
            Some(true) => Ok(PathBuf::from(name)),
            Some(false) => Err(LaunchError::NotExecutable),
            None => Err(LaunchError::NotFound),
        };
    }
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut found_unexecutable = false;
    for dir in std::env::split_paths(&path) {
        let candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        }
        .join(name);
        match executable(&candidate) {
            Some(true) => return Ok(candidate),
            Some(false) => found_unexecutable = true,
            None => {}
        }
    }
    Err(if found_unexecutable {
        LaunchError::NotExecutable
    } else {
        LaunchError::NotFound
    })
}

pub struct Child {
    pub pid: Pid,
    exec_errors: OwnedFd,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "argument contains a NUL byte"))
}

/// Forks and execs `program` with `argv` under the tracer. Must be called
/// while the tracer has a single thread.
pub fn spawn(program: &Path, argv: &[OsString], filter: &Filter) -> io::Result<Child> {
    // Everything the child needs is allocated before fork: after it, the
    // child may only make async-signal-safe calls.
    let program = cstring(program.as_os_str().as_bytes())?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let (go_read, go_write) = pipe()?;
    let (err_read, err_write) = pipe()?;

    // SAFETY: fork in a single-threaded process; the child branch below only
    // calls async-signal-safe functions and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        signals::reset_in_child();
        drop(go_write);
        drop(err_read);
        let mut byte = [0u8; 1];
        let got = loop {
            // SAFETY: reading one byte into a local buffer.
            let n = unsafe { libc::read(go_read.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
            if n == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break n;
        };
        let fail = |errno: i32| -> ! {
            let bytes = errno.to_ne_bytes();
            // SAFETY: write and _exit are async-signal-safe.
            unsafe {
                libc::write(err_write.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
                libc::_exit(if errno == libc::ENOENT { 127 } else { 126 })
            }
        };
        if got != 1 {
            // The tracer went away before attaching: never run untraced.
            // SAFETY: async-signal-safe.
            unsafe { libc::_exit(127) }
        }
        if let Err(e) = filter.install() {
            fail(e.raw_os_error().unwrap_or(libc::EPERM));
        }
        // SAFETY: program and argv are NUL-terminated and outlive the call.
        unsafe { libc::execv(program.as_ptr(), arg_ptrs.as_ptr()) };
        fail(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::ENOEXEC),
        );
    }

    drop(go_read);
    drop(err_write);
    if let Err(e) = ptrace::seize(pid) {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        return Err(e);
    }
    let go = [1u8];
    // SAFETY: writing one byte from a local buffer.
    if unsafe { libc::write(go_write.as_raw_fd(), go.as_ptr().cast(), 1) } != 1 {
        return Err(io::Error::last_os_error());
    }
    Ok(Child {
        pid,
        exec_errors: err_read,
    })
}

impl Child {
    /// The errno of a failed exec, once the child has ended.
    pub fn exec_error(&self) -> Option<i32> {
        let mut buf = [0u8; 4];
        // SAFETY: reading into a local buffer; the write end is closed by
        // now (exec or exit), so this does not block.
        let n = unsafe { libc::read(self.exec_errors.as_raw_fd(), buf.as_mut_ptr().cast(), 4) };
        (n == 4).then(|| i32::from_ne_bytes(buf))
    }
}
