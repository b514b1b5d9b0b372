//! GPUs through NVIDIA's NVML (the driver's own library, loaded at run time
//! by nvml-wrapper): what the machine has, for the env snapshot, and which
//! of them a job's processes used, sampled while it runs. Without a driver
//! (no /proc/driver/nvidia/version) nothing here loads NVML: one stat.
//! scripts/gpu-check.sh checks it on a machine with a GPU.

use crate::object::Value;
use nvml_wrapper::Nvml;
use std::collections::BTreeSet;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

const DRIVER_VERSION_FILE: &str = "/proc/driver/nvidia/version";
/// The name the driver installs (`libnvidia-ml.so` is only in dev packages).
const NVML_LIBRARY: &str = "libnvidia-ml.so.1";
const POLL: Duration = Duration::from_millis(200);
/// How far up /proc's parent links a GPU process may be from the job's root.
const MAX_ANCESTRY: usize = 64;

pub fn driver_present() -> bool {
    std::path::Path::new(DRIVER_VERSION_FILE).exists()
}

/// The kernel driver's version line: part of the env snapshot's cache key.
pub fn driver_stamp() -> Option<String> {
    let text = std::fs::read_to_string(DRIVER_VERSION_FILE).ok()?;
    text.lines().next().map(|l| l.trim().to_owned())
}

fn nvml() -> Option<Nvml> {
    if !driver_present() {
        return None;
    }
    Nvml::builder()
        .lib_path(std::ffi::OsStr::new(NVML_LIBRARY))
        .init()
        .ok()
}

/// Every GPU NVML reports, in its index order: `{index, name, uuid, memory
/// (bytes), driver, cuda ("12.4")}` (docs/object-format.md, `env`); empty
/// without a driver or when NVML cannot answer.
pub fn inventory() -> Vec<Value> {
    let Some(nvml) = nvml() else {
        return Vec::new();
    };
    let answer = || -> Result<Vec<Value>, nvml_wrapper::error::NvmlError> {
        let driver = nvml.sys_driver_version()?;
        let cuda_int = nvml.sys_cuda_driver_version()?;
        let cuda = format!(
            "{}.{}",
            nvml_wrapper::cuda_driver_version_major(cuda_int),
            nvml_wrapper::cuda_driver_version_minor(cuda_int)
        );
        let mut gpus = Vec::new();
        for i in 0..nvml.device_count()? {
            let d = nvml.device_by_index(i)?;
            gpus.push(Value::map(vec![
                ("index", Value::Int(i128::from(i))),
                ("name", Value::Text(d.name()?)),
                ("uuid", Value::Text(d.uuid()?)),
                ("memory", Value::Int(i128::from(d.memory_info()?.total))),
                ("driver", Value::text(&driver)),
                ("cuda", Value::text(&cuda)),
            ]));
        }
        Ok(gpus)
    };
    answer().unwrap_or_default()
}

/// Whether `root` is `pid` or one of its ancestors, by /proc/<pid>/stat.
pub fn descends_from(pid: u32, root: u32) -> bool {
    let mut cur = pid;
    for _ in 0..MAX_ANCESTRY {
        if cur == root {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{cur}/stat")) else {
            return false;
        };
        // The command name is in parentheses and may hold anything, so the
        // fields are counted from the last ')': state, then the parent.
        let Some(rest) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
            return false;
        };
        match rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
            Some(parent) if parent != cur && parent != 0 => cur = parent,
            _ => return false,
        }
    }
    false
}

/// Polls NVML while a job runs: the UUIDs of the GPUs on which one of the
/// processes below `root` held a context (compute or graphics). A process
/// that starts and ends between two polls (0.2 s) is missed.
pub struct UsageSampler {
    stop: Sender<()>,
    thread: JoinHandle<BTreeSet<String>>,
}

impl UsageSampler {
    /// None without a driver: there is nothing to sample.
    pub fn start(root: u32) -> Option<UsageSampler> {
        if !driver_present() {
            return None;
        }
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("roar-gpu".into())
            .spawn(move || {
                let mut used = BTreeSet::new();
                let Some(nvml) = nvml() else {
                    return used;
                };
                loop {
                    poll(&nvml, root, &mut used);
                    match stopped.recv_timeout(POLL) {
                        Err(RecvTimeoutError::Timeout) => continue,
                        _ => {
                            poll(&nvml, root, &mut used);
                            return used;
                        }
                    }
                }
            })
            .ok()?;
        Some(UsageSampler { stop, thread })
    }

    /// The GPUs seen in use, sorted.
    pub fn stop(self) -> Vec<String> {
        let _ = self.stop.send(());
        self.thread
            .join()
            .map(|used| used.into_iter().collect())
            .unwrap_or_default()
    }
}

fn poll(nvml: &Nvml, root: u32, used: &mut BTreeSet<String>) {
    let Ok(count) = nvml.device_count() else {
        return;
    };
    for i in 0..count {
        let Ok(device) = nvml.device_by_index(i) else {
            continue;
        };
        let Ok(uuid) = device.uuid() else { continue };
        if used.contains(&uuid) {
            continue;
        }
        let procs = device
            .running_compute_processes()
            .unwrap_or_default()
            .into_iter()
            .chain(device.running_graphics_processes().unwrap_or_default());
        if procs.into_iter().any(|p| descends_from(p.pid, root)) {
            used.insert(uuid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grandchild_descends_from_this_process_and_not_the_reverse() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .expect("sh");
        let me = std::process::id();
        let grandchild = (0..100).find_map(|_| {
            let kids = std::fs::read_to_string(format!(
                "/proc/{}/task/{}/children",
                child.id(),
                child.id()
            ))
            .unwrap_or_default();
            let pid = kids
                .split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
            pid
        });
        let grandchild = grandchild.expect("sleep started");
        assert!(descends_from(grandchild, me));
        assert!(descends_from(grandchild, child.id()));
        assert!(!descends_from(me, child.id()));
        assert!(!descends_from(4_194_304 + 12_345, me), "no such process");
        // SAFETY: signalling the sleep this test started.
        unsafe { libc::kill(grandchild as i32, libc::SIGKILL) };
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn without_a_driver_there_are_no_gpus_and_no_sampler() {
        if driver_present() {
            return; // a GPU machine: scripts/gpu-check.sh covers it
        }
        assert!(inventory().is_empty());
        assert!(UsageSampler::start(std::process::id()).is_none());
    }
}
