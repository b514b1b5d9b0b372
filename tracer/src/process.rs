//! Starting the command: resolve it on PATH (so "not found" is known before
//! anything runs), fork, and let the child install the seccomp filter and
//! exec. The child inherits every descriptor, the environment, the signal
//! mask and the process group exactly as the command would untraced.
//!
//! - User notification: the child installs the filter, which gives it the
//!   listener fd, passes that to the tracer over a socket (SCM_RIGHTS),
//!   closes its own copy and execs. Its exec is the first trapped call, so
//!   it waits until the tracer holds the listener.
//! - ptrace: the child blocks reading a pipe until the tracer has seized
//!   it; only then does it install the filter and exec (a SECCOMP_RET_TRACE
//!   with no tracer attached would fail the call with ENOSYS).
//!
//! Either way the child asks to be killed if the tracer dies
//! (PR_SET_PDEATHSIG), and a close-on-exec pipe carries the errno of a
//! failed filter install or exec back to the tracer.

use crate::ptrace::{self, Pid};
use crate::seccomp::{Filter, Trap};
use crate::signals;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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

/// What went wrong in the child before the command ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildFailure {
    /// Installing the seccomp filter failed with this errno.
    Filter(i32),
    /// execve failed with this errno.
    Exec(i32),
}

const STAGE_FILTER: i32 = 1;
const STAGE_EXEC: i32 = 2;

pub struct Child {
    pub pid: Pid,
    /// The seccomp listener (user notification only).
    pub listener: Option<OwnedFd>,
    failures: OwnedFd,
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

pub(crate) fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two fds into `fds`.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "argument contains a NUL byte"))
}

/// Room for one SCM_RIGHTS control message carrying one fd, aligned.
#[repr(C, align(8))]
struct FdMessage([u8; 32]);

/// A one-byte message with room for one descriptor. Async-signal-safe.
struct Message {
    byte: [u8; 1],
    iov: libc::iovec,
    control: FdMessage,
    header: libc::msghdr,
}

impl Message {
    /// Points the header at the buffers; call once `self` no longer moves.
    fn header(&mut self) -> *mut libc::msghdr {
        self.iov = libc::iovec {
            iov_base: self.byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        self.header.msg_iov = &mut self.iov;
        self.header.msg_iovlen = 1;
        self.header.msg_control = self.control.0.as_mut_ptr().cast();
        self.header.msg_controllen = self.control.0.len();
        &mut self.header
    }
}

fn message() -> Message {
    // SAFETY: all-zero is a valid value of these plain C structs.
    unsafe { std::mem::zeroed() }
}

/// Sends `fd` over `sock`. Async-signal-safe (no allocation).
pub(crate) fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    let mut m = message();
    let msg = m.header();
    // SAFETY: `msg` points into `m`, which outlives the call; CMSG_* compute
    // offsets inside its control buffer, which has room for one fd.
    unsafe {
        (*msg).msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(sock, msg, 0) != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives one fd sent with `send_fd`; Ok(None) at end of stream.
pub(crate) fn recv_fd(sock: RawFd) -> io::Result<Option<OwnedFd>> {
    let mut m = message();
    let msg = m.header();
    // SAFETY: as in send_fd; the received fd is owned by us once returned.
    unsafe {
        let n = loop {
            let n = libc::recvmsg(sock, msg, libc::MSG_CMSG_CLOEXEC);
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            break n;
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(None);
        }
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no descriptor in the listener message",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

/// Forks and execs `program` with `argv` under `filter`. Must be called
/// while the tracer has a single thread. `keep_privileges`: install the
/// filter without no_new_privs (the tracer has CAP_SYS_ADMIN).
pub fn spawn(
    program: &Path,
    argv: &[OsString],
    filter: &Filter,
    keep_privileges: bool,
) -> io::Result<Child> {
    // Everything the child needs is allocated before fork: after it, the
    // child may only make async-signal-safe calls.
    let program = cstring(program.as_os_str().as_bytes())?;
    let args: Vec<CString> = argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let mut arg_ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    arg_ptrs.push(std::ptr::null());
    let trap = filter.trap();
    // Notify: the listener travels over `sock`; ptrace: `go` says "seized".
    let (go_read, go_write) = pipe()?;
    let (sock_parent, sock_child) = socketpair()?;
    let (fail_read, fail_write) = pipe()?;
    // SAFETY: getpid is always safe.
    let tracer = unsafe { libc::getpid() };

    // SAFETY: fork in a single-threaded process; the child branch below only
    // calls async-signal-safe functions and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        signals::reset_in_child();
        drop(go_write);
        drop(sock_parent);
        drop(fail_read);
        let fail = |stage: i32, errno: i32| -> ! {
            let mut bytes = [0u8; 8];
            bytes[..4].copy_from_slice(&stage.to_ne_bytes());
            bytes[4..].copy_from_slice(&errno.to_ne_bytes());
            // SAFETY: write and _exit are async-signal-safe.
            unsafe {
                libc::write(fail_write.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
                libc::_exit(if errno == libc::ENOENT { 127 } else { 126 })
            }
        };
        // SAFETY: prctl, getppid and _exit are async-signal-safe.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() != tracer {
                libc::_exit(127); // the tracer is already gone
            }
        }
        if trap == Trap::Ptrace {
            let mut byte = [0u8; 1];
            let got = loop {
                // SAFETY: reading one byte into a local buffer.
                let n = unsafe { libc::read(go_read.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
                if n == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                break n;
            };
            if got != 1 {
                // The tracer went away before attaching: never run untraced.
                // SAFETY: async-signal-safe.
                unsafe { libc::_exit(127) }
            }
        }
        drop(go_read);
        match filter.install(keep_privileges) {
            Ok(Some(listener)) => {
                if let Err(e) = send_fd(sock_child.as_raw_fd(), listener) {
                    fail(STAGE_FILTER, e.raw_os_error().unwrap_or(libc::EIO));
                }
                // SAFETY: our copy; the tracer holds the listener now.
                unsafe { libc::close(listener) };
            }
            Ok(None) => {}
            Err(e) => fail(STAGE_FILTER, e.raw_os_error().unwrap_or(libc::EPERM)),
        }
        drop(sock_child);
        // SAFETY: program and argv are NUL-terminated and outlive the call.
        unsafe { libc::execv(program.as_ptr(), arg_ptrs.as_ptr()) };
        fail(
            STAGE_EXEC,
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::ENOEXEC),
        );
    }

    drop(go_read);
    drop(sock_child);
    drop(fail_write);
    let kill = || {
        // SAFETY: killing and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL);
        }
    };
    let mut child = Child {
        pid,
        listener: None,
        failures: fail_read,
    };
    match trap {
        Trap::Notify => match recv_fd(sock_parent.as_raw_fd()) {
            Ok(Some(listener)) => child.listener = Some(listener),
            Ok(None) => {
                // The child failed before sending: say why.
                // SAFETY: reaping our own child, which has exited.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::__WALL) };
                let why = child.failure();
                return Err(match why {
                    Some(ChildFailure::Filter(errno)) => io::Error::from_raw_os_error(errno),
                    _ => io::Error::other("the command's process ended before it started"),
                });
            }
            Err(e) => {
                kill();
                return Err(e);
            }
        },
        Trap::Ptrace => {
            if let Err(e) = ptrace::seize(pid) {
                kill();
                return Err(e);
            }
            let go = [1u8];
            // SAFETY: writing one byte from a local buffer.
            if unsafe { libc::write(go_write.as_raw_fd(), go.as_ptr().cast(), 1) } != 1 {
                let e = io::Error::last_os_error();
                kill();
                return Err(e);
            }
        }
    }
    Ok(child)
}

impl Child {
    /// What failed in the child before the command ran, once it has ended
    /// (or exec'd: then nothing).
    pub fn failure(&self) -> Option<ChildFailure> {
        let mut buf = [0u8; 8];
        // SAFETY: reading into a local buffer; the write end is closed by
        // now (exec or exit), so this does not block.
        let n = unsafe { libc::read(self.failures.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        if n != 8 {
            return None;
        }
        let stage = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
        Some(match stage {
            STAGE_FILTER => ChildFailure::Filter(errno),
            _ => ChildFailure::Exec(errno),
        })
    }
}
