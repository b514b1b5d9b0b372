//! Thin, typed wrappers over the raw ptrace requests the tracer uses, plus
//! reading strings and structs out of a stopped tracee. Every call can fail
//! with ESRCH when the tracee died (killed by a signal, or a sibling thread
//! called exit_group); callers treat that as "gone", never as fatal.

use std::io;

pub type Pid = libc::pid_t;

pub const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACEEXIT
    | libc::PTRACE_O_EXITKILL;

const PTRACE_GET_SYSCALL_INFO: libc::c_uint = 0x420e;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Attaches to `pid` (our forked child, still waiting before exec) with the
/// options set at once, so no event can be missed.
pub fn seize(pid: Pid) -> io::Result<()> {
    // SAFETY: PTRACE_SEIZE takes no pointers.
    check(unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, 0, OPTIONS as libc::c_long) }).map(drop)
}

/// Restarts a stopped tracee, delivering `signal` (0 for none).
pub fn cont(pid: Pid, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: PTRACE_CONT takes no pointers.
    check(unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, signal as libc::c_long) }).map(drop)
}

/// Leaves a tracee in group-stop while letting us hear about its SIGCONT:
/// job control (Ctrl-Z, fg) keeps working under the tracer.
pub fn listen(pid: Pid) -> io::Result<()> {
    // SAFETY: PTRACE_LISTEN takes no pointers.
    check(unsafe { libc::ptrace(libc::PTRACE_LISTEN, pid, 0, 0) }).map(drop)
}

pub fn event_msg(pid: Pid) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: the kernel writes one c_ulong into `msg`.
    check(unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            pid,
            0,
            &mut msg as *mut libc::c_ulong,
        )
    })?;
    Ok(msg as u64)
}

#[repr(C)]
#[derive(Default)]
struct RawSyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    nr: u64,
    args: [u64; 6],
    ret_data: u32,
    pad2: u32,
}

/// The syscall a tracee is stopped at in a seccomp stop.
pub struct SeccompStop {
    pub arch: u32,
    pub nr: u64,
    pub args: [u64; 6],
}

/// PTRACE_GET_SYSCALL_INFO (Linux 5.3): arch, number and arguments in one
/// request, the same on every architecture.
pub fn seccomp_stop(pid: Pid) -> io::Result<SeccompStop> {
    let mut info = RawSyscallInfo::default();
    // SAFETY: the kernel writes at most `size_of::<RawSyscallInfo>()` bytes.
    let n = check(unsafe {
        libc::ptrace(
            PTRACE_GET_SYSCALL_INFO,
            pid,
            std::mem::size_of::<RawSyscallInfo>(),
            &mut info as *mut RawSyscallInfo,
        )
    })?;
    if info.op != PTRACE_SYSCALL_INFO_SECCOMP || (n as usize) < 64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a seccomp stop",
        ));
    }
    Ok(SeccompStop {
        arch: info.arch,
        nr: info.nr,
        args: info.args,
    })
}

/// Reads from the tracee's memory with one process_vm_readv; returns how
/// many bytes were read (short at an unmapped page).
fn read_memory(pid: Pid, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`; the kernel checks `remote`.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

const PAGE: u64 = 4096;
const PATH_MAX: usize = 4096;

/// Reads a NUL-terminated string (a path) from the tracee. Reads never cross
/// a page boundary in one request, so a string that ends just before an
/// unmapped page is still read.
pub fn read_cstring(pid: Pid, mut addr: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut chunk = [0u8; PAGE as usize];
    loop {
        let room = (PAGE - addr % PAGE) as usize;
        let n = read_memory(pid, addr, &mut chunk[..room])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "unreadable string",
            ));
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > PATH_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "path longer than PATH_MAX",
            ));
        }
        addr += n as u64;
    }
}

/// Reads the first u64 (`flags`) of the tracee's `struct open_how`.
pub fn read_u64(pid: Pid, addr: u64) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    if read_memory(pid, addr, &mut buf)? != 8 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read"));
    }
    Ok(u64::from_ne_bytes(buf))
}
