//! The git state of a run, read the way git reads it: HEAD, branch, remote,
//! and whether the tracked files differ from HEAD, decided by the index's
//! stat data (gitoxide's status), so only files whose stat changed are
//! read. When they differ, the difference is recorded as a `git diff HEAD`
//! style patch (tracked files only; untracked files are not part of it),
//! stored as a blob object. Paths are bytes throughout: a tracked file
//! whose name is not UTF-8 is diffed like any other.

use crate::object::{Object, Value};
use crate::store;
use anyhow::{Context, Result};
use gix::bstr::{BStr, BString, ByteSlice};
use gix::diff::blob::unified_diff::{ConsumeHunk, ContextSize, DiffLineKind, HunkHeader};
use gix::diff::blob::{intern::InternedInput, sources, Algorithm, UnifiedDiff};
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What the job records about the repository it ran in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    /// The work tree's root, absolute.
    pub repo: Vec<u8>,
    pub remote: Option<String>,
    /// None on a detached HEAD.
    pub branch: Option<String>,
    /// HEAD's commit, hex.
    pub commit: String,
    /// The tracked files' difference from HEAD as a patch; empty when clean.
    pub patch: Vec<u8>,
}

impl GitState {
    pub fn dirty(&self) -> bool {
        !self.patch.is_empty()
    }

    /// The job context's `git` map (docs/object-format.md §3); a dirty
    /// tree's patch is stored as a blob and named here.
    pub fn to_value(&self, store_dir: &Path) -> Result<Value> {
        let patch = if self.dirty() {
            let blob = Object {
                kind: "blob",
                body: self.patch.clone(),
            };
            Value::Text(store::write_object(store_dir, &blob).context("cannot store the patch")?)
        } else {
            Value::Null
        };
        let opt = |v: &Option<String>| v.as_deref().map_or(Value::Null, Value::text);
        Ok(Value::map(vec![
            ("repo", path_value(&self.repo)),
            ("remote", opt(&self.remote)),
            ("branch", opt(&self.branch)),
            ("commit", Value::text(&self.commit)),
            ("dirty", Value::Bool(self.dirty())),
            ("patch", patch),
        ]))
    }
}

/// A path in a context map: text when it is UTF-8, else its bytes.
pub fn path_value(path: &[u8]) -> Value {
    match std::str::from_utf8(path) {
        Ok(text) => Value::text(text),
        Err(_) => Value::Bytes(path.to_vec()),
    }
}

/// The work tree containing `dir`: the nearest ancestor holding `.git`
/// (a directory, or a file for linked worktrees and submodules). A few
/// stat calls; no repository is opened.
pub fn find_work_tree(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").symlink_metadata().is_ok())
        .map(Path::to_path_buf)
}

/// The state of the repository whose work tree contains `dir`; None outside
/// a repository and before its first commit.
pub fn read(dir: &Path) -> Result<Option<GitState>> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Some(root) = find_work_tree(&dir) else {
        return Ok(None);
    };
    // The index is only read, never written back: its trailing checksum
    // (a SHA-1 of the whole file, tens of ms at 100,000 entries) is not
    // verified, as with git's own index.skipHash.
    let options = gix::open::Options::default().config_overrides(["index.skipHash=true"]);
    let repo = match gix::open_opts(&root, options) {
        Ok(repo) => repo,
        // `.git` that is no repository (a stray file, a broken link): as
        // outside git, like the lookup git itself does.
        Err(gix::open::Error::NotARepository { .. }) => return Ok(None),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot open the git repository at {}", root.display()))
        }
    };
    let Ok(head) = repo.head_id() else {
        return Ok(None); // no commit yet
    };
    let branch = repo
        .head_name()
        .ok()
        .flatten()
        .filter(|name| name.category() == Some(gix::reference::Category::LocalBranch))
        .map(|name| name.shorten().to_str_lossy().into_owned());
    let remote = remote_url(&repo, branch.as_deref());
    let patch = patch(&repo, &root).context("cannot compare the work tree with HEAD")?;
    Ok(Some(GitState {
        repo: root.as_os_str().as_bytes().to_vec(),
        remote,
        branch,
        commit: head.to_string(),
        patch,
    }))
}

/// The branch's remote's URL, else `origin`'s (as `git push` would pick).
fn remote_url(repo: &gix::Repository, branch: Option<&str>) -> Option<String> {
    let config = repo.config_snapshot();
    let mut names = Vec::new();
    if let Some(b) = branch {
        if let Some(name) = config.string(format!("branch.{b}.remote").as_str()) {
            names.push(name.into_owned());
        }
    }
    names.push(BString::from("origin"));
    names.iter().find_map(|name| {
        config
            .string(format!("remote.{}.url", name.to_str_lossy()).as_str())
            .map(|url| url.to_str_lossy().into_owned())
    })
}

/// Paths whose HEAD, index and work tree versions may differ: git's
/// status (HEAD tree against index, index against work tree by stat data),
/// without untracked files and without submodule contents.
fn changed_paths(repo: &gix::Repository) -> Result<BTreeSet<BString>> {
    use gix::status::index_worktree::Item as WorktreeItem;
    use gix::status::plumbing::index_as_worktree::EntryStatus;
    let mut platform = repo
        .status(gix::progress::Discard)?
        .untracked_files(gix::status::UntrackedFiles::None)
        .index_worktree_rewrites(None)
        .index_worktree_submodules(gix::status::Submodule::Given {
            ignore: gix::submodule::config::Ignore::All,
            check_dirty: false,
        });
    // As git does: an index whose cache tree is valid and names HEAD's
    // tree has nothing staged, so HEAD's tree is not walked.
    let index = repo.index_or_empty().context("cannot read the git index")?;
    let staged_unchanged = match (index.tree(), repo.head_tree_id()) {
        (Some(tree), Ok(head)) => tree.num_entries.is_some() && tree.id == head.detach(),
        _ => false,
    };
    platform = platform.index(gix::worktree::IndexPersistedOrInMemory::Persisted(index));
    let items: Box<dyn Iterator<Item = Result<gix::status::Item>>> = if staged_unchanged {
        Box::new(
            platform
                .into_index_worktree_iter(Vec::<BString>::new())?
                .map(|i| i.map(gix::status::Item::IndexWorktree).map_err(Into::into)),
        )
    } else {
        Box::new(
            platform
                .into_iter(Vec::<BString>::new())?
                .map(|i| i.map_err(Into::into)),
        )
    };
    let mut paths = BTreeSet::new();
    for item in items {
        match item? {
            gix::status::Item::TreeIndex(change) => {
                paths.insert(change.location().to_owned());
            }
            gix::status::Item::IndexWorktree(WorktreeItem::Modification {
                rela_path,
                status,
                ..
            }) => {
                // NeedsUpdate: only the stat data changed, not the content.
                if !matches!(status, EntryStatus::NeedsUpdate(_)) {
                    paths.insert(rela_path);
                }
            }
            gix::status::Item::IndexWorktree(WorktreeItem::Rewrite {
                source,
                dirwalk_entry,
                ..
            }) => {
                paths.insert(source.rela_path().to_owned());
                paths.insert(dirwalk_entry.rela_path);
            }
            gix::status::Item::IndexWorktree(WorktreeItem::DirectoryContents { .. }) => {}
        }
    }
    Ok(paths)
}

/// One side of a file's difference: git mode, content and blob id.
struct Side {
    mode: u32,
    data: Vec<u8>,
    id: gix::ObjectId,
}

fn patch(repo: &gix::Repository, root: &Path) -> Result<Vec<u8>> {
    let paths = changed_paths(repo)?;
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let tree = repo.head_tree().context("cannot read HEAD's tree")?;
    let (mut filters, index) = repo
        .filter_pipeline(None)
        .context("cannot set up git's content filters")?;
    let mut out = Vec::new();
    for path in paths.iter().map(|p| p.as_bstr()) {
        let old = head_side(&tree, path)?;
        let new = worktree_side(repo, root, path, &mut filters, &index)?;
        if matches!((&old, &new), (Some(a), Some(b)) if a.mode == b.mode && a.id == b.id) {
            continue; // staged and then changed back, or a stat-only change
        }
        if old.is_none() && new.is_none() {
            continue;
        }
        write_file_diff(&mut out, path, old.as_ref(), new.as_ref());
    }
    Ok(out)
}

fn head_side(tree: &gix::Tree<'_>, path: &BStr) -> Result<Option<Side>> {
    let Some(entry) = tree.lookup_entry(path.split(|&b| b == b'/'))? else {
        return Ok(None);
    };
    let mode = entry.mode();
    if mode.is_commit() || mode.is_tree() {
        return Ok(None); // submodules are not part of the patch
    }
    let object = entry.object()?;
    Ok(Some(Side {
        mode: mode.value() as u32,
        data: object.data.clone(),
        id: object.id,
    }))
}

fn worktree_side(
    repo: &gix::Repository,
    root: &Path,
    path: &BStr,
    filters: &mut gix::filter::Pipeline<'_>,
    index: &gix::worktree::IndexPersistedOrInMemory,
) -> Result<Option<Side>> {
    let rela = Path::new(std::ffi::OsStr::from_bytes(path));
    let full = root.join(rela);
    let Ok(meta) = full.symlink_metadata() else {
        return Ok(None); // deleted
    };
    let (mode, data) = if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&full)
            .with_context(|| format!("cannot read link {}", full.display()))?;
        (0o120000, target.as_os_str().as_bytes().to_vec())
    } else if meta.is_file() {
        let file = std::fs::File::open(&full)
            .with_context(|| format!("cannot read {}", full.display()))?;
        let mode = if meta.permissions().mode() & 0o100 != 0 {
            0o100755
        } else {
            0o100644
        };
        (mode, to_git(filters, index, rela, file)?)
    } else {
        return Ok(None); // a directory (or socket...) where a file was
    };
    let id = gix::objs::compute_hash(repo.object_hash(), gix::object::Kind::Blob, &data)?;
    Ok(Some(Side { mode, data, id }))
}

/// The work tree file's content as git would store it (line-ending and
/// other configured filters applied), as `git diff` compares it.
fn to_git(
    filters: &mut gix::filter::Pipeline<'_>,
    index: &gix::worktree::IndexPersistedOrInMemory,
    rela: &Path,
    mut file: std::fs::File,
) -> Result<Vec<u8>> {
    use gix::filter::plumbing::pipeline::convert::ToGitOutcome;
    let mut data = Vec::new();
    match filters.convert_to_git(&mut file, rela, index)? {
        ToGitOutcome::Unchanged(reader) => {
            reader.read_to_end(&mut data)?;
        }
        ToGitOutcome::Process(mut reader) => {
            reader.read_to_end(&mut data)?;
        }
        ToGitOutcome::Buffer(buffer) => data.extend_from_slice(buffer),
    }
    Ok(data)
}

/// git's test for binary content: a NUL in the first 8000 bytes.
fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}

/// One file's part of the patch, in `git diff` form.
fn write_file_diff(out: &mut Vec<u8>, path: &BStr, old: Option<&Side>, new: Option<&Side>) {
    let a = [b"a/", path.as_bytes()].concat();
    let b = [b"b/", path.as_bytes()].concat();
    let dev_null = b"/dev/null".to_vec();
    out.extend_from_slice(b"diff --git ");
    out.extend_from_slice(&a);
    out.push(b' ');
    out.extend_from_slice(&b);
    out.push(b'\n');
    match (old, new) {
        (Some(o), Some(n)) if o.mode != n.mode => {
            out.extend_from_slice(
                format!("old mode {:o}\nnew mode {:o}\n", o.mode, n.mode).as_bytes(),
            );
        }
        (None, Some(n)) => {
            out.extend_from_slice(format!("new file mode {:o}\n", n.mode).as_bytes())
        }
        (Some(o), None) => {
            out.extend_from_slice(format!("deleted file mode {:o}\n", o.mode).as_bytes())
        }
        _ => {}
    }
    let short = |s: Option<&Side>| {
        s.map_or_else(
            || "0000000".to_owned(),
            |s| s.id.to_hex_with_len(7).to_string(),
        )
    };
    if old.map(|s| s.id) != new.map(|s| s.id) {
        out.extend_from_slice(format!("index {}..{}", short(old), short(new)).as_bytes());
        if let (Some(o), Some(n)) = (old, new) {
            if o.mode == n.mode {
                out.extend_from_slice(format!(" {:o}", n.mode).as_bytes());
            }
        }
        out.push(b'\n');
    }
    let before = old.map_or(&[][..], |s| &s.data[..]);
    let after = new.map_or(&[][..], |s| &s.data[..]);
    let from = if old.is_some() { &a } else { &dev_null };
    let to = if new.is_some() { &b } else { &dev_null };
    if is_binary(before) || is_binary(after) {
        out.extend_from_slice(b"Binary files ");
        out.extend_from_slice(from);
        out.extend_from_slice(b" and ");
        out.extend_from_slice(to);
        out.extend_from_slice(b" differ\n");
        return;
    }
    let input = InternedInput::new(
        sources::byte_lines_with_terminator(before),
        sources::byte_lines_with_terminator(after),
    );
    let hunks = gix::diff::blob::diff(
        Algorithm::Myers,
        &input,
        UnifiedDiff::new(&input, Hunks::default(), ContextSize::symmetrical(3)),
    )
    .unwrap_or_default();
    if hunks.is_empty() {
        return; // a mode change only
    }
    out.extend_from_slice(b"--- ");
    out.extend_from_slice(from);
    out.extend_from_slice(b"\n+++ ");
    out.extend_from_slice(to);
    out.push(b'\n');
    out.extend_from_slice(&hunks);
}

/// Unified hunks as git writes them: `@@ -l,s +l,s @@`, one prefixed line
/// each, and `\ No newline at end of file` after a last line without one.
#[derive(Default)]
struct Hunks(Vec<u8>);

fn range(start: u32, len: u32) -> String {
    match len {
        1 => start.to_string(),
        0 => format!("{},0", start.saturating_sub(1)),
        _ => format!("{start},{len}"),
    }
}

impl ConsumeHunk for Hunks {
    type Out = Vec<u8>;

    fn consume_hunk(
        &mut self,
        h: HunkHeader,
        lines: &[(DiffLineKind, &[u8])],
    ) -> std::io::Result<()> {
        let head = format!(
            "@@ -{} +{} @@\n",
            range(h.before_hunk_start, h.before_hunk_len),
            range(h.after_hunk_start, h.after_hunk_len)
        );
        self.0.extend_from_slice(head.as_bytes());
        for (kind, line) in lines {
            self.0.push(match kind {
                DiffLineKind::Context => b' ',
                DiffLineKind::Add => b'+',
                DiffLineKind::Remove => b'-',
            });
            self.0.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                self.0
                    .extend_from_slice(b"\n\\ No newline at end of file\n");
            }
        }
        Ok(())
    }

    fn finish(self) -> Vec<u8> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_ranges_are_written_as_git_writes_them() {
        assert_eq!(range(3, 1), "3");
        assert_eq!(range(1, 0), "0,0");
        assert_eq!(range(4, 0), "3,0");
        assert_eq!(range(2, 5), "2,5");
    }

    #[test]
    fn a_nul_in_the_first_8000_bytes_is_binary() {
        assert!(is_binary(b"a\0b"));
        assert!(!is_binary(b"plain text\n"));
        let mut late = vec![b'x'; 8000];
        late.push(0);
        assert!(!is_binary(&late));
    }
}
