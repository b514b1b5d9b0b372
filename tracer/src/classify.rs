//! What the job did to each path, event by event, and, when the job has
//! ended, which files were its inputs and outputs. During the run the work
//! per event is one hash-map update (plus one stat the first time a path is
//! changed); the expensive parts (resolving symlinks, stat, hashing) happen
//! once at the end, except for the one thing that cannot wait: the content a
//! file had before the job changed it, when the job had read it.

use crate::context::StartGate;
use crate::hash::{FileHash, Hasher, Role};
use crate::hash_cache::Identity;
use crate::interpreters::Interpreters;
use crate::job::{tree_object, Artifact, ArtifactKind};
use crate::object::Object;
use crate::paths::{as_path, has_dotdot, is_under, split_parent, to_bytes};
use crate::tree::{is_regular_file, walk, TreeFile};
use anyhow::Result;
use rayon::prelude::*;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

/// Kernel pseudo-filesystems: never artifacts, not even filtered reads.
const NEVER: &[&[u8]] = &[b"/proc", b"/sys", b"/dev"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Read {
    #[default]
    No,
    /// Read before any change by the job: an input if it exists at the end
    /// (its content then is its content before the job).
    Pending,
    /// Read, then changed by the job: the content hashed just before the
    /// first change.
    Before(FileHash),
    /// Looked for but absent, or gone before we could hash it.
    Void,
}

#[derive(Debug, Default)]
struct PathRecord {
    read: Read,
    /// The job created, wrote, truncated, renamed or linked something here.
    written: bool,
    /// Set at the job's first change to this path: what was there then
    /// (None: nothing). An output must differ from it at the end.
    first_change: Option<Option<Identity>>,
}

enum Route {
    Never,
    Filtered,
    Tracked,
}

pub struct Recorder<'h> {
    hasher: &'h Hasher,
    filtered_prefixes: Vec<Vec<u8>>,
    records: HashMap<Vec<u8>, PathRecord>,
    /// Pending reads in order, and how many of them are in `read_inodes`:
    /// lets a change through one name (hard link, symlink target) find reads
    /// through another without a stat per read during the run.
    reads_in_order: Vec<Vec<u8>>,
    reads_indexed: usize,
    /// How many of `reads_in_order` `news` has reported.
    reads_reported: usize,
    /// Paths first written since `news` last ran.
    writes_unreported: Vec<Vec<u8>>,
    read_inodes: HashMap<(u64, u64), Vec<Vec<u8>>>,
    filtered: HashSet<Vec<u8>>,
    created_dirs: HashSet<Vec<u8>>,
    ignore_globs: Vec<glob::Pattern>,
    start_gate: Option<Arc<StartGate>>,
    /// Recognizes the Python interpreters the job executes; their
    /// installations join `filtered_prefixes` as they are met.
    interpreters: Option<Interpreters>,
    pub warnings: Vec<String>,
}

/// What `Recorder::news` reports about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum News {
    /// Read before any change: an input if it exists at the end.
    Read,
    /// Written by the job: an output if it is a changed file at the end.
    Written,
}

/// The classification of a finished job.
pub struct Findings {
    pub inputs: Vec<Artifact>,
    pub outputs: Vec<Artifact>,
    pub trees: Vec<Object>,
    pub filtered: Vec<Vec<u8>>,
    pub warnings: Vec<String>,
}

const RENAME_EXCHANGE: u32 = 2;

impl<'h> Recorder<'h> {
    /// `filtered_prefixes`: absolute paths (the store, the caller's ignore
    /// prefixes) whose reads are listed as filtered and whose writes are
    /// dropped.
    pub fn new(hasher: &'h Hasher, filtered_prefixes: Vec<Vec<u8>>) -> Recorder<'h> {
        Recorder {
            hasher,
            filtered_prefixes,
            records: HashMap::new(),
            reads_in_order: Vec::new(),
            reads_indexed: 0,
            reads_reported: 0,
            writes_unreported: Vec::new(),
            read_inodes: HashMap::new(),
            filtered: HashSet::new(),
            created_dirs: HashSet::new(),
            ignore_globs: Vec::new(),
            start_gate: None,
            interpreters: None,
            warnings: Vec::new(),
        }
    }

    /// Watches the programs the job executes for Python interpreters.
    pub fn with_interpreters(mut self, interpreters: Option<Interpreters>) -> Recorder<'h> {
        self.interpreters = interpreters;
        self
    }

    /// The Python interpreters the job executed, in order.
    pub fn interpreters(&self) -> &[crate::env_snapshot::PythonInfo] {
        self.interpreters.as_ref().map_or(&[], Interpreters::found)
    }

    /// Filters reads under `prefixes` too (absolute, symlinks resolved):
    /// from now on, and, since `finish` routes every path again, those
    /// already recorded (a venv's `bin/activate`, read before its python
    /// was executed).
    pub fn filter_also(&mut self, prefixes: Vec<Vec<u8>>) {
        for p in prefixes {
            if !self.filtered_prefixes.contains(&p) {
                self.filtered_prefixes.push(p);
            }
        }
    }

    /// A gate every change waits at until the front end has read the state
    /// it records as the one at the start (see `context::StartGate`).
    pub fn with_start_gate(mut self, gate: Option<Arc<StartGate>>) -> Recorder<'h> {
        self.start_gate = gate;
        self
    }

    /// Absolute glob patterns whose matches are filtered like the prefixes
    /// (`*` stays within one path component, `**` crosses them).
    pub fn with_ignore_globs(mut self, globs: Vec<glob::Pattern>) -> Recorder<'h> {
        self.ignore_globs = globs;
        self
    }

    fn glob_ignored(&self, path: &[u8]) -> bool {
        if self.ignore_globs.is_empty() {
            return false;
        }
        let Ok(text) = std::str::from_utf8(path) else {
            return false; // patterns are text; a non-UTF-8 path cannot match one
        };
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        self.ignore_globs
            .iter()
            .any(|g| g.matches_with(text, options))
    }

    fn route(&self, path: &[u8]) -> Route {
        // `..` may cross a symlink: decide after resolving, at the end.
        if has_dotdot(path) {
            return Route::Tracked;
        }
        if NEVER.iter().any(|p| is_under(path, p)) {
            Route::Never
        } else if self.filtered_prefixes.iter().any(|p| is_under(path, p))
            || self.glob_ignored(path)
        {
            Route::Filtered
        } else {
            Route::Tracked
        }
    }

    // ---- events -------------------------------------------------------

    /// open/openat/openat2/creat, by their flags.
    pub fn open(&mut self, path: Vec<u8>, flags: i32) {
        if flags & libc::O_PATH != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE {
            // O_PATH cannot read or write; an O_TMPFILE file has no name
            // until linkat gives it one, which is recorded then.
            return;
        }
        let access = flags & libc::O_ACCMODE;
        let truncates = flags & libc::O_TRUNC != 0;
        let follow = flags & libc::O_NOFOLLOW == 0;
        if access == libc::O_RDONLY && !truncates {
            if flags & libc::O_DIRECTORY != 0 {
                return;
            }
            let creates_it =
                flags & libc::O_CREAT != 0 && fs::symlink_metadata(as_path(&path)).is_err();
            if creates_it {
                self.write(&path, follow);
            } else {
                self.read(path);
            }
            return;
        }
        if access == libc::O_RDWR && !truncates {
            // The job can read the old content through this descriptor.
            self.read(path.clone());
        }
        self.write(&path, follow);
    }

    pub fn exec(&mut self, path: Vec<u8>) {
        if let Some(watch) = &mut self.interpreters {
            let prefixes = watch.executed(&path);
            self.filter_also(prefixes);
        }
        self.read(path);
    }

    pub fn truncate(&mut self, path: Vec<u8>) {
        self.write(&path, true);
    }

    pub fn unlink(&mut self, path: Vec<u8>, flags: i32) {
        if flags & libc::AT_REMOVEDIR == 0 {
            self.change(&path, false);
        }
    }

    /// link/linkat: the new name is a new output with the old one's content.
    pub fn link(&mut self, new: Vec<u8>) {
        self.write(&new, false);
    }

    pub fn mknod(&mut self, path: Vec<u8>, mode: u32) {
        let kind = mode & libc::S_IFMT;
        if kind == 0 || kind == libc::S_IFREG {
            self.write(&path, false);
        }
    }

    /// mkdir/mkdirat: remembered only if the directory did not exist, so that
    /// `mkdir -p` over existing directories creates no composite.
    pub fn mkdir(&mut self, path: Vec<u8>) {
        if matches!(self.route(&path), Route::Tracked)
            && fs::symlink_metadata(as_path(&path)).is_err()
        {
            self.created_dirs.insert(path);
        }
    }

    pub fn rename(&mut self, old: Vec<u8>, new: Vec<u8>, flags: u32) {
        let exchange = flags & RENAME_EXCHANGE != 0;
        if fs::symlink_metadata(as_path(&old)).is_ok_and(|m| m.is_dir()) {
            self.rename_dir(&old, &new, exchange);
            return;
        }
        self.change(&old, false);
        self.write(&new, false);
        if exchange {
            self.write(&old, false);
        }
    }

    // ---- bookkeeping --------------------------------------------------

    fn read(&mut self, path: Vec<u8>) {
        match self.route(&path) {
            Route::Never => {}
            Route::Filtered => {
                self.filtered.insert(path);
            }
            Route::Tracked => match self.records.entry(path) {
                Entry::Vacant(slot) => {
                    self.reads_in_order.push(slot.key().clone());
                    slot.insert(PathRecord {
                        read: Read::Pending,
                        ..PathRecord::default()
                    });
                }
                Entry::Occupied(mut slot) => {
                    let rec = slot.get_mut();
                    if rec.first_change.is_none() && rec.read == Read::No {
                        rec.read = Read::Pending;
                        self.reads_in_order.push(slot.key().clone());
                    }
                }
            },
        }
    }

    fn write(&mut self, path: &[u8], follow: bool) {
        let first = match self.change(path, follow) {
            Some(rec) => !std::mem::replace(&mut rec.written, true),
            None => false,
        };
        if first {
            self.writes_unreported.push(path.to_vec());
        }
    }

    /// Reports the paths that became pending inputs or were first written
    /// since the last call: what can be hashed while the command still runs.
    pub fn news(&mut self, mut f: impl FnMut(News, &[u8])) {
        for path in &self.reads_in_order[self.reads_reported..] {
            f(News::Read, path);
        }
        self.reads_reported = self.reads_in_order.len();
        for path in self.writes_unreported.drain(..) {
            f(News::Written, &path);
        }
    }

    /// Records that the job is about to change `path`; the first time, takes
    /// what is there and, if the job read it (under this or another name),
    /// hashes it now, before the syscall is allowed to proceed.
    fn change(&mut self, path: &[u8], follow: bool) -> Option<&mut PathRecord> {
        if let Some(gate) = &self.start_gate {
            gate.hold(path);
        }
        if !matches!(self.route(path), Route::Tracked) {
            return None;
        }
        let first = self
            .records
            .get(path)
            .is_none_or(|r| r.first_change.is_none());
        if first {
            self.first_change(path, follow);
        }
        self.records.get_mut(path)
    }

    fn first_change(&mut self, path: &[u8], follow: bool) {
        let p = as_path(path);
        let meta = if follow {
            fs::metadata(p)
        } else {
            fs::symlink_metadata(p)
        }
        .ok();
        let rec = self.records.entry(path.to_vec()).or_default();
        rec.first_change = Some(meta.as_ref().map(Identity::of));
        let was_pending = rec.read == Read::Pending;
        let Some(meta) = meta else {
            if was_pending {
                rec.read = Read::Void;
            }
            return;
        };
        if meta.file_type().is_symlink() {
            // Replacing or removing a link leaves its target alone: what the
            // job read was the target, which stays an input under its own name.
            if was_pending {
                rec.read = Read::Void;
                if let Ok(target) = fs::canonicalize(p) {
                    self.read(to_bytes(&target));
                }
            }
            return;
        }
        if !meta.is_file() {
            return;
        }
        let mut readers = Vec::new();
        if was_pending {
            readers.push(path.to_vec());
        }
        self.index_reads();
        if let Some(keys) = self.read_inodes.get(&(meta.dev(), meta.ino())) {
            for key in keys {
                if key.as_slice() != path
                    && self
                        .records
                        .get(key)
                        .is_some_and(|r| r.read == Read::Pending)
                {
                    readers.push(key.clone());
                }
            }
        }
        if readers.is_empty() {
            return;
        }
        let before = match self.hasher.hash_while_running(p) {
            Ok(Some(h)) => Read::Before(h),
            Ok(None) => Read::Void,
            Err(e) => {
                self.warnings.push(format!(
                    "could not hash {} before it changed: {e}",
                    p.display()
                ));
                Read::Void
            }
        };
        for key in readers {
            if let Some(r) = self.records.get_mut(&key) {
                r.read = before;
            }
        }
    }

    /// Stats the reads recorded since the last call, so inode aliases can be
    /// found. Runs only when the job changes an existing file.
    fn index_reads(&mut self) {
        for key in &self.reads_in_order[self.reads_indexed..] {
            if let Ok(m) = fs::metadata(as_path(key)) {
                self.read_inodes
                    .entry((m.dev(), m.ino()))
                    .or_default()
                    .push(key.clone());
            }
        }
        self.reads_indexed = self.reads_in_order.len();
    }

    /// A directory moved as a whole (a dataset written under a temporary
    /// name, then renamed into place): what the job wrote inside it is now
    /// under the new name; what it read inside it is hashed now, under the
    /// old name, as any input that is about to move.
    fn rename_dir(&mut self, old: &[u8], new: &[u8], exchange: bool) {
        if let Some(gate) = &self.start_gate {
            gate.hold(old);
            gate.hold(new);
        }
        let under = |from: &[u8], records: &HashMap<Vec<u8>, PathRecord>| -> Vec<Vec<u8>> {
            records
                .keys()
                .filter(|k| is_under(k, from))
                .cloned()
                .collect()
        };
        let from_old = under(old, &self.records);
        let from_new = if exchange {
            under(new, &self.records)
        } else {
            Vec::new()
        };
        for key in from_old.iter().chain(&from_new) {
            if self
                .records
                .get(key)
                .is_some_and(|r| r.read == Read::Pending)
            {
                self.change(key, false);
            }
        }
        let dirs_old: Vec<Vec<u8>> = self
            .created_dirs
            .iter()
            .filter(|d| is_under(d, old))
            .cloned()
            .collect();
        let dirs_new: Vec<Vec<u8>> = if exchange {
            self.created_dirs
                .iter()
                .filter(|d| is_under(d, new))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        self.move_written(&from_old, old, new);
        self.move_written(&from_new, new, old);
        for d in dirs_old {
            self.created_dirs.insert([new, &d[old.len()..]].concat());
        }
        for d in dirs_new {
            self.created_dirs.insert([old, &d[new.len()..]].concat());
        }
    }

    fn move_written(&mut self, keys: &[Vec<u8>], from: &[u8], to: &[u8]) {
        for key in keys {
            if !self.records.get(key).is_some_and(|r| r.written) {
                continue;
            }
            let moved = [to, &key[from.len()..]].concat();
            if !matches!(self.route(&moved), Route::Tracked) {
                continue;
            }
            let rec = self.records.entry(moved).or_default();
            rec.written = true;
            rec.first_change.get_or_insert(None);
        }
    }
}

/// Resolves symlinks in a path that may no longer exist, memoizing parent
/// directories (most files of a job share a few of them).
struct Resolver {
    dirs: HashMap<Vec<u8>, Vec<u8>>,
}

impl Resolver {
    fn dir(&mut self, dir: &[u8]) -> Vec<u8> {
        if let Some(d) = self.dirs.get(dir) {
            return d.clone();
        }
        let resolved = match fs::canonicalize(as_path(dir)) {
            Ok(p) => to_bytes(&p),
            Err(_) => match split_parent(dir) {
                Some((parent, name)) if name != b".." => {
                    let parent = self.dir(parent);
                    join(&parent, name)
                }
                _ => dir.to_vec(),
            },
        };
        self.dirs.insert(dir.to_vec(), resolved.clone());
        resolved
    }

    /// Resolves many paths: parents sequentially through the memo (few
    /// distinct ones), then one lstat per path in parallel. That lstat is
    /// returned when the path is not a symlink (it is then also the path's
    /// stat), so the hasher need not take another.
    fn paths(&mut self, paths: &[Vec<u8>]) -> Vec<(Vec<u8>, Option<fs::Metadata>)> {
        let joined: Vec<Option<Vec<u8>>> = paths
            .iter()
            .map(|path| match split_parent(path) {
                Some((parent, name)) if name != b".." => Some(join(&self.dir(parent), name)),
                _ => None,
            })
            .collect();
        let dirs: Vec<Vec<u8>> = paths
            .iter()
            .zip(&joined)
            .map(|(path, j)| {
                if j.is_none() {
                    self.dir(path)
                } else {
                    Vec::new()
                }
            })
            .collect();
        joined
            .into_par_iter()
            .zip(dirs)
            .map(|(joined, dir)| match joined {
                Some(joined) => match fs::symlink_metadata(as_path(&joined)) {
                    Ok(m) if m.file_type().is_symlink() => {
                        let real = fs::canonicalize(as_path(&joined))
                            .map(|p| to_bytes(&p))
                            .unwrap_or(joined);
                        (real, None)
                    }
                    Ok(m) => (joined, Some(m)),
                    Err(_) => (joined, None),
                },
                None => (dir, None),
            })
            .collect()
    }
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir == b"/" {
        [b"/", name].concat()
    } else {
        [dir, b"/", name].concat()
    }
}

impl Recorder<'_> {
    /// Classifies everything recorded, hashes inputs and outputs in
    /// parallel, and builds the tree objects of composites.
    pub fn finish(mut self) -> Result<Findings> {
        let mut resolver = Resolver {
            dirs: HashMap::new(),
        };
        let mut filtered: BTreeSet<Vec<u8>> = BTreeSet::new();
        // Pending reads, with the stat taken while resolving (if any).
        let mut pending: BTreeMap<Vec<u8>, Option<fs::Metadata>> = BTreeMap::new();
        let mut known: BTreeMap<Vec<u8>, FileHash> = BTreeMap::new();
        let mut changed: HashSet<Vec<u8>> = HashSet::new();
        let mut written: BTreeMap<Vec<u8>, Vec<Option<Identity>>> = BTreeMap::new();

        let (keys, recs): (Vec<Vec<u8>>, Vec<PathRecord>) =
            std::mem::take(&mut self.records).into_iter().unzip();
        let resolved = resolver.paths(&keys);
        for ((path, stat), rec) in resolved.into_iter().zip(recs) {
            match self.route(&path) {
                Route::Never => continue,
                Route::Filtered => {
                    if matches!(rec.read, Read::Pending | Read::Before(_)) {
                        self.filtered.insert(path);
                    }
                    continue;
                }
                Route::Tracked => {}
            }
            match rec.read {
                Read::Pending => {
                    pending.insert(path.clone(), stat);
                }
                Read::Before(h) => {
                    known.insert(path.clone(), h);
                }
                Read::No | Read::Void => {}
            }
            if let Some(before) = rec.first_change {
                changed.insert(path.clone());
                if rec.written {
                    written.entry(path).or_default().push(before);
                }
            }
        }
        // A read of a path the job had already changed (under another name)
        // saw the job's own content: not an input.
        pending.retain(|p, _| !changed.contains(p) && !known.contains_key(p));

        let filtered_paths: Vec<Vec<u8>> = std::mem::take(&mut self.filtered).into_iter().collect();
        filtered.extend(
            filtered_paths
                .into_par_iter()
                .filter(|p| is_regular_file(p))
                .collect::<Vec<_>>(),
        );

        // Outputs: regular files at the end that are not what was there
        // before the job's first change.
        let written: Vec<(Vec<u8>, Vec<Option<Identity>>)> = written.into_iter().collect();
        let outputs: Vec<(Vec<u8>, fs::Metadata)> = written
            .into_par_iter()
            .filter_map(|(path, befores)| {
                let meta = fs::metadata(as_path(&path)).ok().filter(|m| m.is_file())?;
                let now = Identity::of(&meta);
                befores
                    .iter()
                    .any(|b| *b != Some(now))
                    .then_some((path, meta))
            })
            .collect();

        let mut created: Vec<Vec<u8>> =
            std::mem::take(&mut self.created_dirs).into_iter().collect();
        created = created
            .into_iter()
            .map(|d| resolver.dir(&d))
            .filter(|d| {
                matches!(self.route(d), Route::Tracked)
                    && fs::metadata(as_path(d)).is_ok_and(|m| m.is_dir())
            })
            .collect();
        let output_paths: Vec<Vec<u8>> = outputs.iter().map(|(p, _)| p.clone()).collect();
        let composites = topmost_composites(&created, &output_paths);

        // One parallel hashing pass over everything still to hash.
        let mut to_hash: Vec<(PathBuf, Option<fs::Metadata>, Role)> = Vec::new();
        let mut pending_paths = Vec::with_capacity(pending.len());
        for (path, stat) in pending {
            to_hash.push((as_path(&path).to_path_buf(), stat, Role::Input));
            pending_paths.push(path);
        }
        let mut loose_outputs = Vec::new();
        for (path, stat) in outputs {
            if !composites.iter().any(|c| is_under(&path, c)) {
                to_hash.push((as_path(&path).to_path_buf(), Some(stat), Role::Output));
                loose_outputs.push(path);
            }
        }
        let trees: Vec<(Vec<u8>, Vec<TreeFile>)> =
            composites.iter().map(|c| (c.clone(), walk(c))).collect();
        for (_, files) in &trees {
            to_hash.extend(
                files
                    .iter()
                    .map(|(_, abs)| (as_path(abs).to_path_buf(), None, Role::Output)),
            );
        }
        let mut hashes = self.hasher.hash_many_known(to_hash).into_iter();
        let mut next = |path: &[u8], warnings: &mut Vec<String>| match hashes.next() {
            Some(Ok(Some(h))) => Some(h),
            Some(Ok(None)) | None => None,
            // A read of a path that is gone at the end was a failed probe.
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
            Some(Err(e)) => {
                warnings.push(format!("could not hash {}: {e}", as_path(path).display()));
                None
            }
        };

        let mut inputs: Vec<Artifact> = known
            .into_iter()
            .map(|(p, h)| Artifact::file(p, &h))
            .collect();
        for path in pending_paths {
            if let Some(h) = next(&path, &mut self.warnings) {
                inputs.push(Artifact::file(path, &h));
            }
        }
        let mut outputs = Vec::new();
        for path in loose_outputs {
            if let Some(h) = next(&path, &mut self.warnings) {
                outputs.push(Artifact::file(path, &h));
            }
        }
        let mut tree_objects = Vec::new();
        for (dir, files) in trees {
            let mut entries = Vec::with_capacity(files.len());
            for (rel, abs) in files {
                if let Some(h) = next(&abs, &mut self.warnings) {
                    entries.push((rel, h));
                }
            }
            let object = tree_object(&entries)?;
            let size = entries.iter().map(|(_, h)| h.size).sum();
            outputs.push(Artifact {
                path: dir,
                hash: object.id(),
                size,
                kind: ArtifactKind::Tree,
                digests: Default::default(),
            });
            tree_objects.push(object);
        }
        inputs.sort_by(|a, b| a.path.cmp(&b.path));
        outputs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Findings {
            inputs,
            outputs,
            trees: tree_objects,
            filtered: filtered.into_iter().collect(),
            warnings: self.warnings,
        })
    }
}

/// Directories the job created that hold at least two output files (at any
/// depth), keeping only the topmost of nested ones.
fn topmost_composites(created: &[Vec<u8>], outputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let created: HashSet<&[u8]> = created.iter().map(Vec::as_slice).collect();
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for out in outputs {
        let mut at: &[u8] = out;
        while let Some((parent, _)) = split_parent(at) {
            if created.contains(parent) {
                *counts.entry(parent).or_default() += 1;
            }
            at = parent;
        }
    }
    let qualifies: HashSet<&[u8]> = counts
        .into_iter()
        .filter(|&(_, n)| n >= 2)
        .map(|(d, _)| d)
        .collect();
    let mut top: Vec<Vec<u8>> = qualifies
        .iter()
        .filter(|d| {
            !qualifies
                .iter()
                .any(|other| other != *d && is_under(d, other))
        })
        .map(|d| d.to_vec())
        .collect();
    top.sort();
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_created_directories_give_one_topmost_composite() {
        let created = vec![
            b"/w/out".to_vec(),
            b"/w/out/a".to_vec(),
            b"/w/single".to_vec(),
        ];
        let outputs = vec![
            b"/w/out/a/1".to_vec(),
            b"/w/out/a/2".to_vec(),
            b"/w/single/x".to_vec(),
            b"/w/y".to_vec(),
        ];
        assert_eq!(
            topmost_composites(&created, &outputs),
            vec![b"/w/out".to_vec()]
        );
    }
}
