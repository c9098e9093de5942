//! CloudFormation drift detection: DetectStackDrift, waited for, then each
//! resource that differs from its template (MODIFIED, DELETED) with the
//! property differences, so a console edit shows before a deploy
//! overwrites it.

use std::time::Duration;

use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDrift {
    pub path: String,
    /// ADD, REMOVE or NOT_EQUAL.
    pub kind: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftedResource {
    pub logical_id: String,
    pub resource_type: String,
    /// MODIFIED or DELETED.
    pub status: String,
    pub properties: Vec<PropertyDrift>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    pub drifted: Vec<DriftedResource>,
    /// Resources CloudFormation checked and found as their template says.
    pub in_sync: usize,
    /// Resources of types drift detection does not check.
    pub not_checked: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error("cannot start drift detection: {0}")]
    Start(String),
    #[error("drift detection {id} failed: {reason}")]
    Failed { id: String, reason: String },
    #[error("drift detection {id} did not finish in {seconds} s")]
    TooSlow { id: String, seconds: u64 },
    #[error("cannot read drift detection {id}: {message}")]
    Read { id: String, message: String },
}

/// How long a detection may take before it is given up (CloudFormation
/// checks every resource; a few minutes at most for this stack).
const LIMIT: Duration = Duration::from_secs(600);

/// Detects the drift of `stack` and reads what drifted.
pub async fn detect(
    client: &aws_sdk_cloudformation::Client,
    stack: &str,
    poll: Duration,
) -> Result<Drift, DriftError> {
    let id = client
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| DriftError::Start(crate::aws::error::text(&e)))?
        .stack_drift_detection_id
        .unwrap_or_default();
    let started = tokio::time::Instant::now();
    loop {
        let status = client
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .map_err(|e| DriftError::Read {
                id: id.clone(),
                message: crate::aws::error::text(&e),
            })?;
        match status.detection_status {
            Some(StackDriftDetectionStatus::DetectionComplete) => break,
            // Failed for some resources: the rest were still checked.
            Some(StackDriftDetectionStatus::DetectionFailed)
                if status.drifted_stack_resource_count.is_some() =>
            {
                break
            }
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                return Err(DriftError::Failed {
                    id,
                    reason: status.detection_status_reason.unwrap_or_default(),
                })
            }
            _ => {}
        }
        if started.elapsed() > LIMIT {
            return Err(DriftError::TooSlow {
                id,
                seconds: LIMIT.as_secs(),
            });
        }
        tokio::time::sleep(poll).await;
    }
    let mut drift = Drift::default();
    let mut pages = client
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| DriftError::Read {
            id: id.clone(),
            message: crate::aws::error::text(&e),
        })?;
        for resource in page.stack_resource_drifts.unwrap_or_default() {
            match resource.stack_resource_drift_status {
                Some(StackResourceDriftStatus::InSync) => drift.in_sync += 1,
                Some(StackResourceDriftStatus::NotChecked) | None => drift.not_checked += 1,
                Some(status) => drift.drifted.push(DriftedResource {
                    logical_id: resource.logical_resource_id.unwrap_or_default(),
                    resource_type: resource.resource_type.unwrap_or_default(),
                    status: status.as_str().to_owned(),
                    properties: resource
                        .property_differences
                        .unwrap_or_default()
                        .into_iter()
                        .map(|d| PropertyDrift {
                            path: d.property_path.unwrap_or_default(),
                            kind: d
                                .difference_type
                                .map(|k| k.as_str().to_owned())
                                .unwrap_or_default(),
                            expected: d.expected_value.filter(|v| !v.is_empty()),
                            actual: d.actual_value.filter(|v| !v.is_empty()),
                        })
                        .collect(),
                }),
            }
        }
    }
    drift
        .drifted
        .sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
    Ok(drift)
}
