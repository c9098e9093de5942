//! The deploy engine: the stack's assets in S3, change sets, settling and
//! waiting on a stack with live progress, the failure reasons worth
//! showing, and seeding. `commands::deploy` handles the arguments, puts
//! these steps in order and reports.

pub mod assets;
pub mod changeset;
pub mod progress;
pub mod protection;
pub mod seed;
pub mod settle;
pub mod stack;
pub mod subscriptions;

use crate::stack::functions::FunctionSpec;

/// A function's zip, ready to upload: its spec, bytes and SHA-256 (hex).
pub type Zip = (FunctionSpec, Vec<u8>, String);

/// What a deploy would put in place, as one hash: the template, the
/// notification address, the artifact bucket and every function's code. A
/// stack tagged with the same fingerprint needs nothing done.
pub fn fingerprint(template_hash: &str, email: &str, bucket: &str, zips: &[Zip]) -> String {
    crate::build::sha256_hex(
        format!(
            "{template_hash}\n{email}\n{bucket}\n{}",
            zips.iter()
                .map(|(f, _, h)| format!("{}={h}", f.package))
                .collect::<Vec<_>>()
                .join("\n")
        )
        .as_bytes(),
    )
}
