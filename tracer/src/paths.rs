//! Paths as the kernel sees them: byte strings, not necessarily UTF-8.
//! During the run paths are only made absolute and tidied lexically (cheap);
//! `..` is kept because it may cross a symlink. Symlinks are resolved once,
//! at the end of the run (see `classify`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Joins `rel` onto the absolute `base` (if `rel` is relative) and drops
/// empty and `.` components. Keeps `..`.
pub fn absolute(base: &[u8], rel: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(base.len() + rel.len() + 1);
    let parts: Box<dyn Iterator<Item = &[u8]>> = if rel.first() == Some(&b'/') {
        Box::new(rel.split(|&b| b == b'/'))
    } else {
        Box::new(base.split(|&b| b == b'/').chain(rel.split(|&b| b == b'/')))
    };
    for part in parts {
        if part.is_empty() || part == b"." {
            continue;
        }
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// True when `path` is `prefix` or lies below it (component-wise).
pub fn is_under(path: &[u8], prefix: &[u8]) -> bool {
    let prefix = prefix.strip_suffix(b"/").unwrap_or(prefix);
    path.starts_with(prefix)
        && (path.len() == prefix.len() || path[prefix.len()] == b'/' || prefix.is_empty())
}

pub fn has_dotdot(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|p| p == b"..")
}

pub fn as_path(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

pub fn to_bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// Splits `/a/b/c` into (`/a/b`, `c`); the root has no parent.
pub fn split_parent(path: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = path.iter().rposition(|&b| b == b'/')?;
    let name = &path[at + 1..];
    if name.is_empty() {
        return None;
    }
    Some((if at == 0 { &b"/"[..] } else { &path[..at] }, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_join_the_base_and_lose_dots() {
        assert_eq!(absolute(b"/work/x", b"./a//b/./c"), b"/work/x/a/b/c");
        assert_eq!(absolute(b"/work/x", b"/etc//passwd"), b"/etc/passwd");
        assert_eq!(absolute(b"/work/x", b"../y"), b"/work/x/../y");
        assert_eq!(absolute(b"/", b"."), b"/");
    }

    #[test]
    fn prefixes_match_whole_components() {
        assert!(is_under(b"/usr/lib/x", b"/usr"));
        assert!(is_under(b"/usr", b"/usr/"));
        assert!(!is_under(b"/usrlocal/x", b"/usr"));
        assert!(is_under(b"/anything", b"/"));
    }

    #[test]
    fn parent_and_name_split_at_the_last_slash() {
        assert_eq!(split_parent(b"/a/b"), Some((&b"/a"[..], &b"b"[..])));
        assert_eq!(split_parent(b"/a"), Some((&b"/"[..], &b"a"[..])));
        assert_eq!(split_parent(b"/"), None);
    }
}
