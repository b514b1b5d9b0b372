//! Thin, typed wrappers over the raw ptrace requests of the fallback
//! mechanism (kernels without seccomp user notification). Every call can fail
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

const NT_PRSTATUS: libc::c_int = 1;

/// Clears CLONE_UNTRACED from the flags of the `clone` a tracee is stopped
/// at (a seccomp stop), so its child is traced like any other and its
/// trapped calls reach us instead of failing with ENOSYS.
pub fn clear_clone_untraced(pid: Pid) -> io::Result<()> {
    // SAFETY: user_regs_struct is plain data; zeroed is a valid value.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: (&mut regs as *mut libc::user_regs_struct).cast(),
        iov_len: std::mem::size_of::<libc::user_regs_struct>(),
    };
    // SAFETY: the kernel writes at most iov_len bytes into `regs`.
    check(unsafe { libc::ptrace(libc::PTRACE_GETREGSET, pid, NT_PRSTATUS, &mut iov) })?;
    #[cfg(target_arch = "x86_64")]
    let flags = &mut regs.rdi;
    #[cfg(target_arch = "aarch64")]
    let flags = &mut regs.regs[0];
    *flags &= !(libc::CLONE_UNTRACED as u64);
    // SAFETY: the kernel reads iov_len bytes from `regs`.
    check(unsafe { libc::ptrace(libc::PTRACE_SETREGSET, pid, NT_PRSTATUS, &mut iov) }).map(drop)
}
