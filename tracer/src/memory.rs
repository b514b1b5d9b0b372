//! Reading strings and structs out of a process that is waiting in a
//! trapped syscall (a ptrace stop or a user notification), with
//! process_vm_readv: it needs no ptrace attachment, only the right to
//! (ptrace-)inspect the process, which the tracer has over its descendants.

use crate::ptrace::Pid;
use std::io;

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
