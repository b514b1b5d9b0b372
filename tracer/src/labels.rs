//! Labels the front end sets on the job it just recorded (`roar run -n NAME`
//! names the step): a `label` object (docs/object-format.md §3) and its ref
//! `refs/labels/<job>`, created under the ref lock of session.rs, as
//! roar/labels.py would. A job id is new when the tracer has just written
//! it, so there is no earlier label set to merge with.

use crate::object::{Object, Value};
use crate::session::{append_reflog, read_ref, RefLock, ZERO_ID};
use crate::store;
use anyhow::{ensure, Context, Result};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Makes `labels` (text values) the label set of the new job `job`.
pub fn label_new_job(store_dir: &Path, job: &str, labels: &[(String, String)]) -> Result<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0);
    let set = labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::text(v)))
        .collect();
    let body = Value::map(vec![
        ("target", Value::text(job)),
        ("labels", Value::Map(set)),
        ("parent", Value::Null),
        ("time_ns", Value::Int(now)),
    ]);
    let id = store::write_object(store_dir, &Object::new("label", &body)?)
        .context("cannot write the label object")?;
    let name = format!("refs/labels/{job}");
    let ref_path = store_dir.join(&name);
    let mut lock = RefLock::acquire(&ref_path)?;
    ensure!(
        read_ref(&ref_path)?.is_none(),
        "job {job} already has labels"
    );
    append_reflog(store_dir, &name, &format!("{ZERO_ID} {id} {now} label\n"));
    lock.commit(&format!("{id}\n"))?;
    Ok(id)
}
